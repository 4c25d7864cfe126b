// The server suite's test/conformance/7-close.test.ts, over HTTP/2 streams opened by our own client
// (see over-h2-dialer.ts).
import './over-h2-dialer';
import '../../conformance/7-close.test';
