// The operations whose spec 200 declares no body, called through the SDK's own methods.
//
// The SDK reads a JSON-labelled answer with response.json() and, when that throws, prints
// "SyntaxError: Unexpected end of JSON input" (console.error) and resolves with undefined;
// tests/test_sdk_js.py fails a flow whose stderr shows that. A connection cannot be made
// through the API, so the test seeds one and passes its id as KINDLING_CONNECTION_ID.
import { Apis, Applications, Organizations, Users } from "@kinde/management-api-js";
import { runFlow, unique } from "./harness.mjs";

await runFlow("no_content", async (step, note) => {
  const connectionId = process.env.KINDLING_CONNECTION_ID;
  const audience = `https://${unique("js-api")}.example.com`;
  const scopeKey = `read:${unique("js")}`;
  note("audience", audience);
  note("scope_key", scopeKey);

  const app = await step("createApplication", () =>
    Applications.createApplication({ requestBody: { name: unique("js-app"), type: "m2m" } }),
  );
  const applicationId = app.application.id;
  const api = await step("addApis", () =>
    Apis.addApis({ requestBody: { name: unique("js-api"), audience } }),
  );
  const apiId = api.api.id;
  const scope = await step("addApiScope", () =>
    Apis.addApiScope({ apiId, requestBody: { key: scopeKey, description: "before" } }),
  );
  const scopeId = scope.scope.id;
  await step("updateApiApplications", () =>
    Apis.updateApiApplications({ apiId, requestBody: { applications: [{ id: applicationId }] } }),
  );
  await step("addApiApplicationScope", () =>
    Apis.addApiApplicationScope({ apiId, applicationId, scopeId }),
  );
  await step("deleteApiApplicationScope", () =>
    Apis.deleteApiApplicationScope({ apiId, applicationId, scopeId }),
  );
  await step("updateApiScope", () =>
    Apis.updateApiScope({ apiId, scopeId, requestBody: { description: "after" } }),
  );
  await step("getApiScope", () => Apis.getApiScope({ apiId, scopeId }));
  await step("updateApplication", () =>
    Applications.updateApplication({ applicationId, requestBody: { name: "js-renamed" } }),
  );
  await step("getApplication", () => Applications.getApplication({ applicationId }));
  await step("enableConnection", () =>
    Applications.enableConnection({ applicationId, connectionId }),
  );

  const org = await step("createOrganization", () =>
    Organizations.createOrganization({ requestBody: { name: unique("js-org") } }),
  );
  const orgCode = org.organization.code;
  const user = await step("createUser", () =>
    Users.createUser({ requestBody: { profile: { given_name: "Grace", family_name: "Hopper" } } }),
  );
  const userId = user.id;
  await step("addOrganizationUsers", () =>
    Organizations.addOrganizationUsers({ orgCode, requestBody: { users: [{ id: userId }] } }),
  );
  await step("addOrganizationUserApiScope", () =>
    Organizations.addOrganizationUserApiScope({ orgCode, userId, apiId, scopeId }),
  );
  await step("deleteOrganizationUserApiScope", () =>
    Organizations.deleteOrganizationUserApiScope({ orgCode, userId, apiId, scopeId }),
  );
  await step("enableOrgConnection", () =>
    Organizations.enableOrgConnection({ organizationCode: orgCode, connectionId }),
  );
  await step("getOrganizationConnections", () =>
    Organizations.getOrganizationConnections({ organizationCode: orgCode }),
  );
  await step("deleteApiScope", () => Apis.deleteApiScope({ apiId, scopeId }));
  await step("getApiScopes", () => Apis.getApiScopes({ apiId }));

  await step("deleteOrganization", () => Organizations.deleteOrganization({ orgCode }));
  await step("deleteUser", () => Users.deleteUser({ id: userId }));
  await step("deleteApplication", () => Applications.deleteApplication({ applicationId }));
  await step("deleteApi", () => Apis.deleteApi({ apiId }));
});
