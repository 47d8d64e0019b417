// A real tus server (@tus/server with @tus/file-store), standing in for the upload
// links Vimeo hands out. Uploads are stored under DIR/<id>; the tests read them back.
//
// Usage: node server.mjs DIR
// Prints one line once listening: {"url": "http://127.0.0.1:<port>/files"}
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node server.mjs DIR');
  process.exit(2);
}
const server = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const http = server.listen({ host: '127.0.0.1', port: 0 }, () => {
  const { port } = http.address();
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/files` }));
});
