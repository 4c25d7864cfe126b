// The server suite's test/conformance/6-utf8.test.ts, over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/6-utf8.test';
