/// <reference path="./.sst/platform/config.d.ts" />
// The SST app. No top-level imports: SST evaluates `app` on its own, so the stacks are loaded
// inside `run`, where the platform's globals ($app, sst, aws) exist.
export default $config({
  app(input) {
    const production = input.stage === "prod";
    return {
      name: "kiro-apt",
      home: "aws",
      // Production keeps its table and bucket even if a resource leaves this file or the
      // stage is removed; `sst remove --stage prod` refuses to run at all.
      removal: production ? "retain" : "remove",
      protect: production,
    };
  },
  async run() {
    const { loadStage } = await import("./stacks/config");
    const { storage } = await import("./stacks/storage");
    const { publisher } = await import("./stacks/publisher");
    const { poller } = await import("./stacks/poller");

    const root = $cli.paths.root;
    const stage = await loadStage($app.stage, root);
    const store = storage(stage);
    const publish = publisher(stage, store, root);
    const poll = poller(stage, store, publish.deadLetters);

    return {
      repositoryUrl: stage.repoUrl,
      cdnUrl: store.cdn.url,
      packagesTable: store.packages.name,
      stateTable: store.state.name,
      bucket: store.bucket.name,
      rebuildFunction: publish.rebuild.name,
      pollerFunction: poll.fn.name,
      deadLetterQueue: publish.deadLetters.url,
    };
  },
});
