/**
 * Imported first by a test file here: the conformance suite it loads next runs over HTTP/2
 * streams (RFC 8441). The server suite's client is written in the tests from Node's
 * `http2.connect`; the client suite's Dialer runs with `http2: true`.
 */
import { runOver } from '../../conformance/transport';

runOver('h2');
