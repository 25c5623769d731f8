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
        d.exports().forEach(e -> exported.add(e.source()));
        assertEquals(Set.of("io.cdcfanout.dynamodb", "io.cdcfanout.dynamodb.lambda", "io.cdcfanout.dynamodb.poller",
                "io.cdcfanout.dynamodb.sink", "io.cdcfanout.dynamodb.snapshot"),
                exported);
        assertTrue(d.packages().contains("io.cdcfanout.dynamodb.internal"));
    }
}
