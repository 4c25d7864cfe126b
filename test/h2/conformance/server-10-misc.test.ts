// The server suite's test/conformance/10-misc.test.ts, over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/10-misc.test';
