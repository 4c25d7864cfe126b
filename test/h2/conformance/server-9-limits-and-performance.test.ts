// The server suite's test/conformance/9-limits-and-performance.test.ts, over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/9-limits-and-performance.test';
