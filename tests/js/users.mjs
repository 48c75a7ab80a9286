// Users flow from the package README: getUsers, createUser, getUserData, updateUser, deleteUser.
import { Users } from "@kinde/management-api-js";
import { runFlow, unique } from "./harness.mjs";

await runFlow("users", async (step, note) => {
  const email = `${unique("js-user")}@example.com`;
  note("email", email);
  await step("getUsers", () => Users.getUsers({ pageSize: 5 }));
  const created = await step("createUser", () =>
    Users.createUser({
      requestBody: {
        profile: { given_name: "Ada", family_name: "Lovelace" },
        identities: [{ type: "email", details: { email } }],
      },
    }),
  );
  const id = created.id;
  await step("getUserData", () => Users.getUserData({ id, expand: "identities" }));
  await step("getUsersById", () => Users.getUsers({ userId: id }));
  await step("getUsersByEmail", () => Users.getUsers({ email }));
  await step("updateUser", () =>
    Users.updateUser({ id, requestBody: { given_name: "Augusta", family_name: "King" } }),
  );
  await step("getUserDataAfterUpdate", () => Users.getUserData({ id }));
  await step("deleteUser", () => Users.deleteUser({ id }));
  await step("getUserDataAfterDelete", () => Users.getUserData({ id }), { expectError: true });
});
