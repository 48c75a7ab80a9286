// Roles flow: createPermission, createRole, getRoles, getRole, updateRoles,
// updateRolePermissions, getRolePermissions, deleteRole (and the permission).
import { Permissions, Roles } from "@kinde/management-api-js";
import { findInPages, runFlow, unique } from "./harness.mjs";

await runFlow("roles", async (step, note) => {
  const suffix = unique("js").replaceAll("-", "_");
  const permissionKey = `read:${suffix}`;
  const roleKey = `role_${suffix}`;
  note("suffix", suffix);
  note("permission_key", permissionKey);
  note("role_key", roleKey);
  await step("createPermission", () =>
    Permissions.createPermission({
      requestBody: { key: permissionKey, name: `Read ${suffix}`, description: "JS SDK flow" },
    }),
  );
  // createPermission answers a success_response without the id: find it by key.
  const permission = await step("findPermission", () =>
    findInPages(
      (nextToken) => Permissions.getPermissions({ pageSize: 100, nextToken }),
      "permissions",
      (p) => p.key === permissionKey,
    ),
  );
  const created = await step("createRole", () =>
    Roles.createRole({
      requestBody: {
        key: roleKey,
        name: `Role ${suffix}`,
        description: "JS SDK flow",
        is_default_role: false,
      },
    }),
  );
  const roleId = created.role.id;
  await step("getRoles", async () => {
    const first = await Roles.getRoles({ pageSize: 10 });
    const found = await findInPages(
      (nextToken) => Roles.getRoles({ pageSize: 100, nextToken }),
      "roles",
      (r) => r.id === roleId,
    );
    return { first_page: first, found };
  });
  await step("getRole", () => Roles.getRole({ roleId }));
  await step("updateRoles", () =>
    Roles.updateRoles({
      roleId,
      requestBody: { key: roleKey, name: `Role ${suffix} renamed`, description: "renamed" },
    }),
  );
  await step("getRoleAfterUpdate", () => Roles.getRole({ roleId }));
  await step("updateRolePermissions", () =>
    Roles.updateRolePermissions({ roleId, requestBody: { permissions: [{ id: permission.id }] } }),
  );
  await step("getRolePermissions", () => Roles.getRolePermissions({ roleId, pageSize: 100 }));
  await step("deleteRole", () => Roles.deleteRole({ roleId }));
  await step("getRoleAfterDelete", () => Roles.getRole({ roleId }), { expectError: true });
  await step("deletePermission", () =>
    Permissions.deletePermission({ permissionId: permission.id }),
  );
});
