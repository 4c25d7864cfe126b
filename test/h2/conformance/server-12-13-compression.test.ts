// The server suite's test/conformance/12-13-compression.test.ts, over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/12-13-compression.test';
