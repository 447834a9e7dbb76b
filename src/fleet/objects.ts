/**
 * The fleet's object store (any S3-compatible server: AWS S3, R2, Ceph RGW, versitygw) through the
 * AWS SDK. Every write is "create if absent": objects are content-addressed or written once per
 * bundle, so a second write of the same key is the same bytes and is skipped. The HEAD before the
 * write makes that correct on every server; `If-None-Match: *` on the write is only a guard against
 * a concurrent writer (Garage ignores it, GCS spells it differently: correctness never depends on it).
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { PendingUpload } from "../store/index.js";
import { fleetUnreachable } from "./errors.js";
import type { FleetSettings } from "./settings.js";

/** Files above this go in parts, each acknowledged part kept so a killed upload resumes. */
export const MULTIPART_THRESHOLD = 64 * 1024 * 1024;
export const PART_SIZE = 16 * 1024 * 1024;
const PART_CONCURRENCY = 4;

export interface ObjectStore {
  readonly bucket: string;
  readonly client: S3Client;
  /** The full key of a path under the fleet's prefix. */
  key(rel: string): string;
  exists(key: string): Promise<boolean>;
  putIfAbsent(key: string, body: Buffer | string, contentType?: string): Promise<"written" | "present">;
  /**
   * A file, in parts when it is big. `pending` is the upload a killed attempt left (from the
   * journal); `onPending` is told of every acknowledged part so the next attempt resumes there.
   */
  putFileIfAbsent(
    key: string,
    path: string,
    opts?: { pending?: PendingUpload | null; onPending?: (u: PendingUpload | null) => void },
  ): Promise<"written" | "present">;
  get(key: string): Promise<Buffer>;
  /** Streams an object to a file (0600), hashing it on the way. */
  download(key: string, path: string): Promise<{ sha256: string; bytes: number }>;
  delete(key: string): Promise<void>;
  /** Keys under a prefix (full keys). */
  list(prefix: string): AsyncIterable<string>;
  presign(key: string, seconds: number): Promise<string>;
  close(): void;
}

export function createObjectStore(
  s: Pick<FleetSettings, "bucket" | "prefix" | "endpoint" | "region"> & {
    /** Else the SDK's own chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles. */
    credentials?: { accessKeyId: string; secretAccessKey: string };
  },
): ObjectStore {
  const client = quietly(
    () =>
      new S3Client({
        region: s.region,
        ...(s.credentials ? { credentials: s.credentials } : {}),
        ...(s.endpoint ? { endpoint: s.endpoint, forcePathStyle: true } : {}),
        // Non-AWS servers reject the SDK's default CRC32 trailers on every PUT (FIELD-NOTES).
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        maxAttempts: 2,
      }),
  );
  const where = s.endpoint ?? `s3://${s.bucket}`;
  const fail = (cause: unknown) => fleetUnreachable("S3", where, cause);
  const Bucket = s.bucket;
  const target: S3Target = { client, Bucket, fail };

  const exists = async (Key: string): Promise<boolean> => {
    try {
      await client.send(new HeadObjectCommand({ Bucket, Key }));
      return true;
    } catch (e) {
      // AWS answers a HEAD of a missing key with 403 when the key may not list the bucket (a
      // host's least-rights key): not known to exist; the create that follows says the rest.
      const status = statusOf(e);
      if (status === 404 || status === 403) return false;
      throw fail(e);
    }
  };

  const putIfAbsent: ObjectStore["putIfAbsent"] = async (Key, body, contentType) => {
    if (await exists(Key)) return "present";
    try {
      await client.send(
        new PutObjectCommand({
          Bucket,
          Key,
          Body: body,
          IfNoneMatch: "*",
          ...(contentType ? { ContentType: contentType } : {}),
        }),
      );
      return "written";
    } catch (e) {
      if (statusOf(e) === 412) return "present";
      throw fail(e);
    }
  };

  return {
    bucket: Bucket,
    client,
    key: (rel) => `${s.prefix}${rel}`,
    exists,
    putIfAbsent,
    async putFileIfAbsent(Key, path, opts = {}) {
      if (await exists(Key)) {
        if (opts.pending) {
          await client
            .send(
              new AbortMultipartUploadCommand({
                Bucket,
                Key: opts.pending.key,
                UploadId: opts.pending.uploadId,
              }),
            )
            .catch(() => {});
          opts.onPending?.(null);
        }
        return "present";
      }
      const { size } = await stat(path);
      if (size > MULTIPART_THRESHOLD)
        return multipartUpload(target, Key, path, size, opts.pending ?? null, opts.onPending ?? (() => {}));
      const fh = await open(path, "r");
      try {
        return await putIfAbsent(Key, await fh.readFile());
      } finally {
        await fh.close();
      }
    },
    async get(Key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket, Key }));
        return Buffer.from(await r.Body!.transformToByteArray());
      } catch (e) {
        throw fail(e);
      }
    },
    download: (Key, path) => downloadTo(target, Key, path),
    async delete(Key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key })).catch((e) => {
        throw fail(e);
      });
    },
    async *list(Prefix) {
      let ContinuationToken: string | undefined;
      for (;;) {
        let r: ListObjectsV2CommandOutput;
        try {
          r = await client.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
        } catch (e) {
          throw fail(e);
        }
        for (const o of r.Contents ?? []) if (o.Key) yield o.Key;
        if (!r.IsTruncated) return;
        ContinuationToken = r.NextContinuationToken;
      }
    },
    presign: (Key, seconds) =>
      getSignedUrl(client, new GetObjectCommand({ Bucket, Key }), { expiresIn: seconds }),
    close: () => client.destroy(),
  };
}

/** The bucket an object store's calls go to, and how its failures are said. */
interface S3Target {
  client: S3Client;
  Bucket: string;
  fail: (cause: unknown) => Error;
}

/** A large file in parts of PART_SIZE, PART_CONCURRENCY at a time, resuming `pending` (the
 * journal's record of an upload a killed process left) where the server says it stands. */
async function multipartUpload(
  t: S3Target,
  Key: string,
  path: string,
  size: number,
  pending: PendingUpload | null,
  onPending: (u: PendingUpload | null) => void,
): Promise<"written" | "present"> {
  let upload =
    pending && pending.key === Key && pending.partSize === PART_SIZE ? await resumed(t, pending) : null;
  if (!upload) {
    try {
      const r = await t.client.send(new CreateMultipartUploadCommand({ Bucket: t.Bucket, Key }));
      upload = { key: Key, uploadId: r.UploadId!, partSize: PART_SIZE, parts: [] };
    } catch (e) {
      throw t.fail(e);
    }
    onPending(upload);
  }
  await uploadParts(t, upload, path, size, onPending);
  return completeUpload(t, upload, onPending);
}

/** The parts the server holds of `pending`; null when the upload is gone. */
async function resumed(t: S3Target, pending: PendingUpload): Promise<PendingUpload | null> {
  // The server's list is the truth: a part acknowledged after the journal was last written
  // (killed in between) counts too.
  try {
    const parts: PendingUpload["parts"] = [];
    let marker: string | undefined;
    for (;;) {
      const r = await t.client.send(
        new ListPartsCommand({
          Bucket: t.Bucket,
          Key: pending.key,
          UploadId: pending.uploadId,
          PartNumberMarker: marker,
        }),
      );
      for (const p of r.Parts ?? [])
        if (p.PartNumber && p.ETag) parts.push({ PartNumber: p.PartNumber, ETag: p.ETag });
      if (!r.IsTruncated) break;
      marker = r.NextPartNumberMarker;
    }
    return { ...pending, parts };
  } catch (e) {
    if (statusOf(e) !== 404) throw t.fail(e);
    return null; // NoSuchUpload: aborted or expired by a lifecycle rule; start again
  }
}

/** Every part the upload does not hold yet, each recorded (onPending) as the server takes it. */
async function uploadParts(
  t: S3Target,
  u: PendingUpload,
  path: string,
  size: number,
  onPending: (u: PendingUpload | null) => void,
): Promise<void> {
  const total = Math.ceil(size / PART_SIZE);
  const done = new Set(u.parts.map((p) => p.PartNumber));
  const todo: number[] = [];
  for (let n = 1; n <= total; n++) if (!done.has(n)) todo.push(n);
  const fh = await open(path, "r");
  try {
    const worker = async () => {
      for (let n = todo.shift(); n !== undefined; n = todo.shift()) {
        const start = (n - 1) * PART_SIZE;
        const len = Math.min(PART_SIZE, size - start);
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, start);
        if (bytesRead !== len) throw t.fail(new Error(`${path} shrank while uploading`));
        let etag: string | undefined;
        try {
          etag = (
            await t.client.send(
              new UploadPartCommand({
                Bucket: t.Bucket,
                Key: u.key,
                UploadId: u.uploadId,
                PartNumber: n,
                Body: buf,
              }),
            )
          ).ETag;
        } catch (e) {
          throw t.fail(e);
        }
        u.parts.push({ PartNumber: n, ETag: etag ?? "" });
        onPending({ ...u, parts: [...u.parts] });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, todo.length) }, worker));
  } finally {
    await fh.close();
  }
}

/** Complete it unless the object exists already (If-None-Match): then ours is aborted. */
async function completeUpload(
  t: S3Target,
  u: PendingUpload,
  onPending: (u: PendingUpload | null) => void,
): Promise<"written" | "present"> {
  const { Bucket } = t;
  u.parts.sort((a, b) => a.PartNumber - b.PartNumber);
  try {
    await t.client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key: u.key,
        UploadId: u.uploadId,
        MultipartUpload: { Parts: u.parts },
        IfNoneMatch: "*",
      }),
    );
    onPending(null);
    return "written";
  } catch (e) {
    if (statusOf(e) !== 412) throw t.fail(e);
    // Another host completed the same content first: ours is not needed.
    await t.client
      .send(new AbortMultipartUploadCommand({ Bucket, Key: u.key, UploadId: u.uploadId }))
      .catch(() => {});
    onPending(null);
    return "present";
  }
}

/** An object to a private file, hashed as it streams. */
async function downloadTo(
  t: S3Target,
  Key: string,
  path: string,
): Promise<{ sha256: string; bytes: number }> {
  let body: Readable;
  try {
    body = (await t.client.send(new GetObjectCommand({ Bucket: t.Bucket, Key }))).Body as Readable;
  } catch (e) {
    throw t.fail(e);
  }
  const h = createHash("sha256");
  let bytes = 0;
  body.on("data", (c: Buffer) => {
    h.update(c);
    bytes += c.length;
  });
  try {
    await pipeline(body, createWriteStream(path, { mode: 0o600 }));
  } catch (e) {
    throw t.fail(e);
  }
  return { sha256: h.digest("hex"), bytes };
}

/**
 * The SDK warns once per process that its releases after January 2027 need Node 22: hotdump pins
 * its version (package.json), so the warning is noise on every command's stderr. The switch is
 * read when the first client is made; it is not left in the environment our services inherit.
 */
function quietly<T>(make: () => T): T {
  const name = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";
  const had = name in process.env;
  if (!had) process.env[name] = "true";
  try {
    return make();
  } finally {
    if (!had) delete process.env[name];
  }
}

export function statusOf(e: unknown): number | undefined {
  const x = e as { $metadata?: { httpStatusCode?: number }; name?: string; cause?: unknown };
  if (x?.name === "NotFound" || x?.name === "NoSuchKey" || x?.name === "NoSuchUpload") return 404;
  return x?.$metadata?.httpStatusCode ?? (x?.cause ? statusOf(x.cause) : undefined);
}
