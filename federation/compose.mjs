// Compose Apollo Federation v2 subgraphs offline, so the tests can prove the hub's subgraph
// composes with a departmental one (and that a conflicting one is rejected) without a router.
//
// stdin:  [{"name": "...", "url": "...", "sdl": "..."}, ...]
// stdout: {"ok": true, "supergraph": "<supergraph SDL>"} or {"ok": false, "errors": ["message", ...]}
//
// A composition failure (including an SDL that does not parse) is an answer, so it exits 0;
// only a failure of this script itself (bad input JSON, a crash) exits non-zero.

import { composeServices, compositionHasErrors } from "@theguild/federation-composition";
import { GraphQLError, parse } from "graphql";

/** Read all of stdin as text: the subgraph list can be larger than one chunk. */
async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Fail loudly on malformed input: that is the caller's bug, not a composition result. */
function checkSubgraphs(subgraphs) {
  if (!Array.isArray(subgraphs)) {
    throw new TypeError("stdin must be a JSON array of {name, url, sdl} objects");
  }
  for (const [index, subgraph] of subgraphs.entries()) {
    if (typeof subgraph?.name !== "string" || typeof subgraph?.sdl !== "string") {
      throw new TypeError(`subgraph #${index} needs a string "name" and a string "sdl"`);
    }
  }
  return subgraphs;
}

/**
 * Parse each SDL into the library's service definition. A syntax error is reported like a
 * composition error, naming the subgraph, because a broken SDL is exactly what the check is for.
 */
function toServices(subgraphs) {
  const services = [];
  const errors = [];
  for (const { name, url, sdl } of subgraphs) {
    try {
      services.push({ name, url: url ?? undefined, typeDefs: parse(sdl) });
    } catch (error) {
      if (!(error instanceof GraphQLError)) {
        throw error;
      }
      errors.push(`[${name}] ${error.message}`);
    }
  }
  return { services, errors };
}

/** Compose the subgraphs and shape the library's result into this script's JSON answer. */
function compose(subgraphs) {
  const { services, errors } = toServices(subgraphs);
  if (errors.length > 0) {
    return { ok: false, errors };
  }
  const result = composeServices(services);
  if (compositionHasErrors(result)) {
    return { ok: false, errors: result.errors.map((error) => error.message) };
  }
  return { ok: true, supergraph: result.supergraphSdl };
}

const subgraphs = checkSubgraphs(JSON.parse(await readStdin()));
process.stdout.write(`${JSON.stringify(compose(subgraphs))}\n`);
