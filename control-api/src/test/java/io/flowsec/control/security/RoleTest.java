package io.flowsec.control.security;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RoleTest {
    @Test
    void configNamesRoundTrip() {
        assertEquals("read-only", Role.READ_ONLY.configName());
        assertEquals("admin", Role.ADMIN.configName());
        for (Role role : Role.values()) {
            assertEquals(role, Role.fromConfigName(role.configName()));
        }
    }

    @Test
    void anUnknownNameIsRefusedWithTheAllowedNames() {
        for (String name : new String[] {"ADMIN", "read_only", "", null}) {
            IllegalArgumentException refusal =
                    assertThrows(IllegalArgumentException.class, () -> Role.fromConfigName(name));
            assertTrue(refusal.getMessage().contains("read-only, admin"), refusal.getMessage());
        }
    }

    @Test
    void onlyAdminMayWrite() {
        assertTrue(Role.ADMIN.mayWrite());
        assertFalse(Role.READ_ONLY.mayWrite());
    }
}
