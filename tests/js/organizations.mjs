// Organizations flow: createOrganization, getOrganization, getOrganizations,
// updateOrganization, addOrganizationUsers, getOrganizationUsers, deleteOrganization.
import { Organizations, Users } from "@kinde/management-api-js";
import { findInPages, runFlow, unique } from "./harness.mjs";

await runFlow("organizations", async (step, note) => {
  const name = unique("js-org");
  note("name", name);
  const created = await step("createOrganization", () =>
    Organizations.createOrganization({ requestBody: { name } }),
  );
  const orgCode = created.organization.code;
  await step("getOrganization", () => Organizations.getOrganization({ code: orgCode }));
  await step("getOrganizations", async () => {
    const first = await Organizations.getOrganizations({ pageSize: 10 });
    const found = await findInPages(
      (nextToken) => Organizations.getOrganizations({ pageSize: 100, nextToken }),
      "organizations",
      (org) => org.code === orgCode,
    );
    return { first_page: first, found };
  });
  await step("updateOrganization", () =>
    Organizations.updateOrganization({ orgCode, requestBody: { name: `${name}-renamed` } }),
  );
  await step("getOrganizationAfterUpdate", () => Organizations.getOrganization({ code: orgCode }));
  const user = await step("createUser", () =>
    Users.createUser({
      requestBody: {
        profile: { given_name: "Grace", family_name: "Hopper" },
        identities: [{ type: "email", details: { email: `${unique("js-member")}@example.com` } }],
      },
    }),
  );
  await step("addOrganizationUsers", () =>
    Organizations.addOrganizationUsers({ orgCode, requestBody: { users: [{ id: user.id }] } }),
  );
  await step("getOrganizationUsers", () =>
    Organizations.getOrganizationUsers({ orgCode, pageSize: 100 }),
  );
  await step("deleteOrganization", () => Organizations.deleteOrganization({ orgCode }));
  await step("getOrganizationAfterDelete", () => Organizations.getOrganization({ code: orgCode }), {
    expectError: true,
  });
  await step("deleteUser", () => Users.deleteUser({ id: user.id }));
});
