// The baseline of bench/fleet-upload.mjs: one file uploaded with the plain AWS SDK, as a
// hand-written integration would (@aws-sdk/lib-storage's Upload, 16 MiB parts, 4 at a time).
// `node bench/lib/sdk-upload.mjs FILE BUCKET KEY`, endpoint and keys from the environment.
import { createReadStream } from "node:fs";
import { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const [file, bucket, key] = process.argv.slice(2);
const client = new S3Client({
  region: "us-east-1",
  endpoint: process.env.HOTDUMP_FLEET_S3_ENDPOINT,
  forcePathStyle: true,
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
await new Upload({
  client,
  params: { Bucket: bucket, Key: key, Body: createReadStream(file) },
  partSize: 16 << 20,
  queueSize: 4,
}).done();
client.destroy();
