/**
 * Imported first by a test file here: the server conformance suite it loads next runs over
 * HTTP/2 streams opened by our own RFC 8441 client (the Dialer's session pool).
 */
import { runOver } from '../../conformance/transport';

runOver('h2-dialer');
