// The server suite's test/conformance/1-framing.test.ts, over HTTP/2 streams opened by our own client
// (see over-h2-dialer.ts).
import './over-h2-dialer';
import '../../conformance/1-framing.test';
