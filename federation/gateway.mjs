// A real Apollo Gateway over the hub and a small departmental subgraph, for tests/test_gateway.py.
//
// The department (a pensions office) extends the hub's Person by its key `id` and the hub's Address
// by its key `doorplateCode`, adding a field to each, and answers queries of its own that return
// hub entities, so queries cross the two subgraphs in both directions. Its values are derived from
// the key it is asked about ("pension of per_…"), so a test sees which id reached it.
//
// stdin:  {"hub": "http://127.0.0.1:PORT/graphql", "gatewayToken": "hub_…"}
// stdout: one line, {"gateway": "http://127.0.0.1:PORT/", "department": "http://127.0.0.1:PORT/"}
//         once both listen. Closing stdin stops both.
//
// The gateway composes the supergraph itself (IntrospectAndCompose), fetching the hub's SDL with
// its own token of the hub's `gateway` role; every operation then goes to the hub with the
// calling client's Authorization (and X-Purpose) header, forwarded unchanged.

import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const FORWARDED_HEADERS = ["authorization", "x-purpose"];

// Stdout carries the one line the test reads; everything the servers say goes to stderr.
const logger = {
  debug: () => {},
  info: (message) => console.error(message),
  warn: (message) => console.error(message),
  error: (message) => console.error(message),
};

const DEPARTMENT_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.0", import: ["@key", "@shareable"])

type Person @key(fields: "id") {
  id: ID!
  pensionStatus: String
}

type Address @key(fields: "doorplateCode") {
  doorplateCode: String
  lastInspection: String
}

type Inspection {
  id: ID!
  address: Address!
}

type Query {
  pensioners(ids: [ID!]!): [Person!]!
  inspections(doorplateCodes: [String!]!): [Inspection!]!
}
`;

const departmentResolvers = {
  Query: {
    pensioners: (_root, { ids }) => ids.map((id) => ({ id })),
    inspections: (_root, { doorplateCodes }) =>
      doorplateCodes.map((code, index) => ({ id: String(index), address: { doorplateCode: code } })),
  },
  Person: {
    __resolveReference: ({ id }) => ({ id }),
    pensionStatus: ({ id }) => `pension of ${id}`,
  },
  Address: {
    __resolveReference: ({ doorplateCode }) => ({ doorplateCode }),
    lastInspection: ({ doorplateCode }) => `inspected ${doorplateCode}`,
  },
};

/** The first line of stdin; stdin stays open after it, and its end stops the servers. */
function readLine() {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk) => {
      text += chunk;
      const end = text.indexOf("\n");
      if (end >= 0) {
        process.stdin.off("data", onData);
        resolve(text.slice(0, end));
      }
    };
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", onData);
    process.stdin.once("end", () => reject(new Error("stdin closed before the configuration line")));
  });
}

const LISTEN = { host: "127.0.0.1", port: 0 };

async function startDepartment() {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({ typeDefs: parse(DEPARTMENT_SDL), resolvers: departmentResolvers }),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    logger,
  });
  const { url } = await startStandaloneServer(server, { listen: LISTEN });
  return { server, url };
}

async function startGateway(hubUrl, gatewayToken, departmentUrl) {
  const gateway = new ApolloGateway({
    logger,
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [
        { name: "hub", url: hubUrl },
        { name: "pensions", url: departmentUrl },
      ],
      introspectionHeaders: { authorization: `Bearer ${gatewayToken}` },
    }),
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource({
        url,
        // The schema fetch has no client context and keeps the gateway's own token; operations
        // carry the caller's headers, so the hub masks, scopes and logs per departmental client.
        willSendRequest({ request, context }) {
          for (const name of FORWARDED_HEADERS) {
            const value = context?.headers?.[name];
            if (value) request.http.headers.set(name, value);
          }
        },
      }),
  });
  const server = new ApolloServer({ gateway, logger, includeStacktraceInErrorResponses: false });
  const { url } = await startStandaloneServer(server, {
    listen: LISTEN,
    context: async ({ req }) => ({
      headers: Object.fromEntries(FORWARDED_HEADERS.map((name) => [name, req.headers[name]])),
    }),
  });
  return { server, url };
}

const config = JSON.parse(await readLine());
const department = await startDepartment();
const gateway = await startGateway(config.hub, config.gatewayToken, department.url);
process.stdout.write(`${JSON.stringify({ gateway: gateway.url, department: department.url })}\n`);

process.stdin.on("end", async () => {
  await gateway.server.stop();
  await department.server.stop();
  process.exit(0);
});
process.stdin.resume();
