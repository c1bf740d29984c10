// The new-task round trip of the warmstart gRPC API from Node, built from the .proto alone
// (no generated code, no Python): upload a CSV table with a write token (the service stores
// the task and returns its id), ask for configs, report three results, ask again.
//
//   npm install --no-package-lock && node roundtrip.mjs --server 127.0.0.1:50051 \
//       --token TOKEN --data table.csv --target target [--space lightgbm] [--k 3] [--proto FILE]
//
// Prints one JSON object: the task id, both answers' configs and observation counts, and
// what ReportResults said. Exits 1 with the gRPC status and message if a call fails.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

const here = dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    server: { type: "string", default: "127.0.0.1:50051" },
    token: { type: "string" },
    data: { type: "string" },
    target: { type: "string", default: "target" },
    space: { type: "string", default: "lightgbm" },
    k: { type: "string", default: "3" },
    name: { type: "string", default: "" },
    // The contract: protos/warmstart/v1/warmstart.proto of the repository by default.
    proto: { type: "string", default: join(here, "..", "..", "protos", "warmstart", "v1", "warmstart.proto") },
  },
});
if (!args.token || !args.data) {
  console.error("usage: node roundtrip.mjs --token TOKEN --data TABLE.csv [--server HOST:PORT]");
  process.exit(2);
}

const definition = protoLoader.loadSync(args.proto, {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { warmstart } = grpc.loadPackageDefinition(definition);
const client = new warmstart.v1.Warmstart(args.server, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set("authorization", `Bearer ${args.token}`);

const unary = (method, request) =>
  new Promise((resolve, reject) => {
    client[method](request, metadata, (error, response) => (error ? reject(error) : resolve(response)));
  });

// DescribeTask is a client stream: the first chunk names the format and target.
const describe = (bytes) =>
  new Promise((resolve, reject) => {
    const call = client.DescribeTask(metadata, (error, response) =>
      error ? reject(error) : resolve(response),
    );
    const size = 64 * 1024;
    for (let start = 0; start < bytes.length || start === 0; start += size) {
      const chunk = { data: bytes.subarray(start, start + size) };
      if (start === 0) Object.assign(chunk, { format: "FORMAT_CSV", target: args.target, name: args.name });
      call.write(chunk);
      if (bytes.length === 0) break;
    }
    call.end();
  });

// A Config's parameters as plain values, for printing and for reporting back.
const plain = (config) =>
  Object.fromEntries(
    Object.entries(config.parameters).map(([name, value]) => [name, value[value.kind]]),
  );

try {
  const described = await describe(readFileSync(args.data));
  const k = Number(args.k);
  const first = await unary("SuggestConfigs", { task_id: described.task_id, space: args.space, k });
  const tried = first.suggestions.slice(0, 3);
  const results = tried.map((suggestion, i) => ({
    id: `node-${described.task_id}-${i}`,
    task_id: described.task_id,
    space: args.space,
    config: suggestion.config,
    status: "RESULT_STATUS_OK",
    score: 0.8 + 0.05 * i,
    seed: 0,
  }));
  const reported = await unary("ReportResults", { results });
  const second = await unary("SuggestConfigs", { task_id: described.task_id, space: args.space, k });
  console.log(
    JSON.stringify({
      task_id: described.task_id,
      created: described.created,
      first: { observations: first.observations, configs: first.suggestions.map((s) => plain(s.config)) },
      reported: { stored: reported.stored, already: reported.already, duplicates: reported.duplicates },
      tried: tried.map((s) => plain(s.config)),
      second: { observations: second.observations, configs: second.suggestions.map((s) => plain(s.config)) },
    }),
  );
  client.close();
} catch (error) {
  console.error(`gRPC call failed: ${grpc.status[error.code] ?? error.code}: ${error.details ?? error.message}`);
  client.close();
  process.exit(1);
}
