// The server suite's test/conformance/4-opcodes.test.ts, over HTTP/2 (see over-h2.ts).
import './over-h2';
import '../../conformance/4-opcodes.test';
