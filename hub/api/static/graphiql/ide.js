// The hub's GraphiQL page: the vendored GraphiQL on this server's /graphql, with an example query and the
// Authorization header ready to fill in. A token given as /graphql#token=hub_... goes into that header;
// a fragment never reaches the server, and it is taken off the address bar so it stays out of history.
// Headers are not persisted (shouldPersistHeaders is false), so no token is left in localStorage.
(function () {
  "use strict";

  var EXAMPLE_QUERY = [
    "# 数据链接枢纽 GraphQL 接口：Ctrl+Enter 运行查询。",
    "#",
    "# 每个请求都要带客户端令牌（`hub clients add` 签发）：",
    "# 把下方 Headers 里的 <your token> 换成令牌，",
    "# 或用 /graphql#token=hub_... 打开本页。",
    "# 换了令牌，点左下角的 ↻ 重新读取接口文档。",
    "# 个人信息按令牌权限脱敏，每次查看记入访问日志。",
    "",
    "query Example {",
    "  viewer {",
    "    name",
    "    role",
    "    scopes",
    "  }",
    '  searchAddresses(text: "琴湖花园3幢201室", first: 3) {',
    "    score",
    "    address {",
    "      text",
    "      doorplateCode",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  function tokenFromFragment() {
    var token = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (token) {
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return token ? token.trim() : null;
  }

  var token = tokenFromFragment() || "<your token>";
  var headers = JSON.stringify({ Authorization: "Bearer " + token }, null, 2);

  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + window.location.pathname });

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: EXAMPLE_QUERY,
      headers: headers,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
      inputValueDeprecation: true,
    }),
  );
})();
