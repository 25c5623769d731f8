package io.cdcfanout.dynamodb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.module.ModuleDescriptor;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The module exports the API packages only; the internal package stays hidden. */
class ModuleExportsTest {

    @Test
    void onlyTheApiPackagesAreExported() {
        Module module = StreamRecords.class.getModule();
        assertTrue(module.isNamed(), "tests run on the module path");
        ModuleDescriptor d = module.getDescriptor();
        Set<String> exported = new TreeSet<>();
        d.exports().stream().filter(e -> !e.isQualified()).forEach(e -> exported.add(e.source()));
        assertEquals(Set.of("io.cdcfanout.dynamodb", "io.cdcfanout.dynamodb.poller",
                "io.cdcfanout.dynamodb.sink", "io.cdcfanout.dynamodb.snapshot"),
                exported);
        assertTrue(d.packages().contains("io.cdcfanout.dynamodb.internal"));
    }

    /**
     * Regression: the module required the Lambda libraries, automatic modules named after their jar files,
     * whose names change with a rename; now every module it requires is explicit or names itself in its
     * manifest (Automatic-Module-Name).
     */
    @Test
    void noRequiredModuleIsNamedAfterItsJarFile() throws Exception {
        Module module = StreamRecords.class.getModule();
        java.util.List<String> filenameBased = new java.util.ArrayList<>();
        for (ModuleDescriptor.Requires r : module.getDescriptor().requires()) {
            java.util.Optional<java.lang.module.ResolvedModule> resolved = module.getLayer().configuration()
                    .findModule(r.name());
            if (resolved.isEmpty() || !resolved.get().reference().descriptor().isAutomatic()) {
                continue;
            }
            java.net.URI location = resolved.get().reference().location().orElseThrow();
            try (java.util.jar.JarFile jar = new java.util.jar.JarFile(new java.io.File(location))) {
                java.util.jar.Manifest manifest = jar.getManifest();
                if (manifest == null || manifest.getMainAttributes().getValue("Automatic-Module-Name") == null) {
                    filenameBased.add(r.name());
                }
            }
        }
        assertEquals(java.util.List.of(), filenameBased);
        assertTrue(module.getDescriptor().requires().stream().noneMatch(r -> r.name().startsWith("aws.lambda")));
    }
}
