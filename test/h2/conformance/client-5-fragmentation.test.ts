// The client suite's test/conformance/client/5-fragmentation.test.ts: our Dialer over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/client/5-fragmentation.test';
