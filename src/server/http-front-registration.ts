// Installs the HTTP front into the server when it is built (src/server/http/). Empty until then.
export {};
