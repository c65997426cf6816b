/**
 * `node hold-upload.js CONFIG_JSON PATH`: starts an upload to the S3 destination CONFIG_JSON of a
 * stream that sends 12 MiB and then stalls, prints "parts up" once S3 holds a multipart upload
 * for PATH with a part in it, and waits to be killed: an agent that died mid-upload.
 */
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { ListMultipartUploadsCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { S3Destination, parseDestinationConfig, type S3DestinationConfig } from '../../shared/destination';

const [configJson, path] = process.argv.slice(2);
const config = parseDestinationConfig(JSON.parse(configJson)) as S3DestinationConfig;
const dest = new S3Destination(config);
let sent = 0;
const stalling = new Readable({
  read() {
    if (sent >= 12 * 2 ** 20) return; // never ends: the upload stays in progress
    sent += 2 ** 20;
    this.push(randomBytes(2 ** 20));
  },
});
dest.put(path, stalling).catch(() => undefined);
const Key = `${config.prefix ? `${config.prefix}/` : ''}${path}`;
void (async () => {
  for (;;) {
    const r = await dest.client.send(new ListMultipartUploadsCommand({ Bucket: config.bucket, Prefix: Key }));
    const u = r.Uploads?.find((x) => x.Key === Key);
    if (u?.UploadId) {
      const parts = await dest.client.send(new ListPartsCommand({ Bucket: config.bucket, Key, UploadId: u.UploadId }));
      if (parts.Parts?.length) {
        process.stdout.write('parts up\n');
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
})();
setInterval(() => undefined, 60_000);
