// Installs the HTTP front (src/server/http/) into the server: --http-port or -r http opens it.
import { registerHttpFront } from './server.js';
import { createHttpFront } from './http/front.js';

registerHttpFront(createHttpFront);
