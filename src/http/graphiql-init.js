// Starts GraphiQL against this server: queries and mutations over HTTP at /graphql,
// subscriptions over the graphql-transport-ws protocol at /graphql/ws.
(function () {
  var wsScheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var fetcher = GraphiQL.createFetcher({
    url: window.location.origin + "/graphql",
    wsClient: graphqlWs.createClient({ url: wsScheme + window.location.host + "/graphql/ws" }),
    headers: { Accept: "application/graphql-response+json, application/json" },
  });
  var defaultQuery = [
    "# Welcome to the Vibecoding Community API.",
    "# Ctrl-Enter runs the operation; Docs (top left) lists every type.",
    "",
    "query Health {",
    "  health {",
    "    app",
    "    database",
    "    cache",
    "    version",
    "  }",
    "}",
    "",
    "# Named subscriptions stream over WebSocket:",
    "# subscription Clock { serverTime(intervalMs: 1000) }",
    "",
  ].join("\n");
  var root = document.getElementById("graphiql");
  var element = React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: defaultQuery,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
  });
  if (ReactDOM.createRoot) {
    ReactDOM.createRoot(root).render(element);
  } else {
    ReactDOM.render(element, root);
  }
})();
