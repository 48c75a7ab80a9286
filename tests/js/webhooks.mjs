// Webhooks flow: createWebHook, getWebHooks, updateWebHook, getEventTypes, getEvent,
// deleteWebHook (and the listing after it).
import { Webhooks } from "@kinde/management-api-js";
import { runFlow, unique } from "./harness.mjs";

await runFlow("webhooks", async (step, note) => {
  const name = unique("js-webhook");
  const endpoint = `https://hooks.example.com/${name}`;
  note("name", name);
  note("endpoint", endpoint);
  const created = await step("createWebHook", () =>
    Webhooks.createWebHook({
      requestBody: {
        endpoint,
        event_types: ["user.created", "organization.created"],
        name,
        description: "JS SDK flow",
      },
    }),
  );
  const webhookId = created.webhook.id;
  await step("getWebHooks", () => Webhooks.getWebHooks());
  await step("updateWebHook", () =>
    Webhooks.updateWebHook({
      webhookId,
      requestBody: { name: `${name}-renamed`, event_types: ["user.deleted"], description: null },
    }),
  );
  await step("getWebHooksAfterUpdate", () => Webhooks.getWebHooks());
  await step("getEventTypes", () => Webhooks.getEventTypes());
  await step("deleteWebHook", () => Webhooks.deleteWebHook({ webhookId }));
  await step("getWebHooksAfterDelete", () => Webhooks.getWebHooks());
});
