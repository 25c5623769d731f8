package io.cdcfanout.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every {@code <!-- snippet:Name:begin -->} block in docs/ and the README is the code between {@code // DOC:begin} and
 * {@code // DOC:end} of the compiled example class {@code Name.java}, line for line (indentation and
 * comments aside).
 */
class DocSnippetsTest {
    private static final Pattern BLOCK = Pattern.compile("<!-- snippet:(\\w+):begin -->(.*?)<!-- snippet:\\1:end -->",
            Pattern.DOTALL);

    private static String normalize(String block) {
        return block.lines().map(DocSnippetsTest::stripComment).map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("```") && !l.startsWith("//"))
                .reduce("", (a, b) -> a + b + "\n");
    }

    private static String stripComment(String line) {
        int at = line.indexOf("  // ");
        return at >= 0 ? line.substring(0, at) : line.replaceAll("\\s*// \\(\\d\\).*$", "");
    }

    @Test
    void docSnippetsAreTheCompiledExamples() throws IOException {
        int checked = 0;
        try (Stream<Path> docs = Files.list(Path.of("../docs"))) {
            List<Path> pages = new java.util.ArrayList<>(docs.filter(p -> p.toString().endsWith(".md")).toList());
            pages.add(Path.of("../README.md"));
            for (Path doc : pages) {
                Matcher m = BLOCK.matcher(Files.readString(doc));
                while (m.find()) {
                    if (m.group(1).equals("QuickStart")) {
                        continue; // ReadmeSnippetTest checks it, with its README markers
                    }
                    List<Path> sources;
                    try (Stream<Path> all = Files.walk(Path.of("src/main/java"))) {
                        String name = m.group(1) + ".java";
                        sources = all.filter(p -> p.getFileName().toString().equals(name)).toList();
                    }
                    assertEquals(1, sources.size(), doc + " names " + m.group(1) + ", found " + sources);
                    String source = Files.readString(sources.get(0));
                    int from = source.indexOf("// DOC:begin");
                    int to = source.indexOf("// DOC:end");
                    assertTrue(from >= 0 && to > from, sources.get(0) + " has no // DOC:begin .. // DOC:end");
                    assertEquals(normalize(source.substring(from + 12, to)), normalize(m.group(2)),
                            doc.getFileName() + ": snippet " + m.group(1));
                    checked++;
                }
            }
        }
        assertTrue(checked >= 2, "snippets checked: " + checked);
    }
}
