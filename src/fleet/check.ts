/**
 * `hotdump fleet init`: checks a real deployment (AWS S3, R2, Ceph RGW, versitygw, ...) for what
 * the fleet relies on, migrates the schema, and says what is missing. It writes and removes a few
 * small objects under <prefix>_hotdump-check/.
 */
import { randomBytes } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetBucketLifecycleConfigurationCommand,
  HeadBucketCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { openCatalog } from "./catalog.js";
import { describeCause } from "./errors.js";
import { createObjectStore, statusOf } from "./objects.js";
import type { FleetSettings } from "./settings.js";

export interface Check {
  name: string;
  /** ok; missing: the fleet will not work (or not safely) without it; warn: works, but see detail. */
  status: "ok" | "missing" | "warn";
  detail: string;
}

export async function checkDeployment(s: FleetSettings): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, status: Check["status"], detail: string) =>
    checks.push({ name, status, detail });
  const objects = createObjectStore(s);
  const { client, bucket: Bucket } = objects;
  const base = objects.key(`_hotdump-check/${randomBytes(6).toString("hex")}`);
  const written: string[] = [];
  try {
    let reachable = false;
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
      add("bucket", "ok", `s3://${Bucket} is reachable`);
      reachable = true;
    } catch (e) {
      add(
        "bucket",
        "missing",
        `s3://${Bucket}: ${describeCause(e)} (create it, check the endpoint and credentials)`,
      );
    }
    if (reachable) {
      const key = `${base}/create-only`;
      try {
        await client.send(new PutObjectCommand({ Bucket, Key: key, Body: "1", IfNoneMatch: "*" }));
        written.push(key);
        try {
          await client.send(new PutObjectCommand({ Bucket, Key: key, Body: "2", IfNoneMatch: "*" }));
          add(
            "conditional create",
            "warn",
            "If-None-Match: * is ignored (a second create overwrote): safe, hotdump checks with HEAD first, but concurrent senders may each upload",
          );
        } catch (e) {
          if (statusOf(e) === 412)
            add("conditional create", "ok", "If-None-Match: * refuses an existing key");
          else add("conditional create", "warn", `second create failed oddly: ${describeCause(e)}`);
        }
      } catch (e) {
        add(
          "conditional create",
          "missing",
          `cannot write ${key}: ${describeCause(e)} (the credentials need PutObject under the prefix)`,
        );
      }
      const mpKey = `${base}/multipart`;
      let uploadId: string | undefined;
      try {
        uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket, Key: mpKey }))).UploadId;
        const etag = (
          await client.send(
            new UploadPartCommand({
              Bucket,
              Key: mpKey,
              UploadId: uploadId,
              PartNumber: 1,
              Body: Buffer.alloc(1024, 7),
            }),
          )
        ).ETag;
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key: mpKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
          }),
        );
        written.push(mpKey);
        add("multipart", "ok", "multipart uploads work (big cores are sent in 16 MiB parts and resume)");
      } catch (e) {
        if (uploadId)
          await client
            .send(new AbortMultipartUploadCommand({ Bucket, Key: mpKey, UploadId: uploadId }))
            .catch(() => {});
        add("multipart", "missing", `multipart upload failed: ${describeCause(e)}`);
      }
      if (written.length > 0) {
        try {
          const url = await objects.presign(written[0]!, 60);
          const r = await fetch(url);
          const body = await r.text();
          if (r.ok && body === "1")
            add("presign", "ok", "presigned GET URLs work (the dashboard hands out 5-minute links to cores)");
          else add("presign", "missing", `a presigned GET answered HTTP ${r.status}`);
        } catch (e) {
          add("presign", "missing", `presigned GET failed: ${describeCause(e)}`);
        }
      }
      try {
        const rules = (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules ?? [];
        const abort = rules.find(
          (r) => r.Status === "Enabled" && r.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
        );
        if (abort)
          add(
            "lifecycle",
            "ok",
            `rule ${abort.ID ?? "(unnamed)"} aborts incomplete multipart uploads after ${abort.AbortIncompleteMultipartUpload?.DaysAfterInitiation} day(s)`,
          );
        else
          add(
            "lifecycle",
            "missing",
            "no enabled rule aborts incomplete multipart uploads: a host killed mid-upload leaves parts that are billed forever (add AbortIncompleteMultipartUpload, e.g. 7 days)",
          );
      } catch (e) {
        add(
          "lifecycle",
          "missing",
          `no lifecycle configuration (${describeCause(e)}): add a rule that aborts incomplete multipart uploads after 7 days`,
        );
      }
    }
  } finally {
    for (const k of written) await objects.delete(k).catch(() => {});
    objects.close();
  }
  try {
    const catalog = await openCatalog(s.pg);
    try {
      const { from, to } = await catalog.migrate();
      add(
        "schema",
        "ok",
        from === to ? `schema at version ${to}` : `schema migrated from version ${from} to ${to}`,
      );
    } finally {
      await catalog.close();
    }
  } catch (e) {
    add(
      "schema",
      "missing",
      `${describeCause((e as { cause?: unknown }).cause ?? e)} (the role needs CREATE on the database once, for the migration; see README "Fleet")`,
    );
  }
  return checks;
}
