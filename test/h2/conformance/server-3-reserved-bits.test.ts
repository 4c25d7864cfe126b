// The server suite's test/conformance/3-reserved-bits.test.ts, over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/3-reserved-bits.test';
