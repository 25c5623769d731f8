package io.cdcfanout.examples.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release pipeline's buildspec, checked by running it: its build command is the README's test
 * command (this very build ran it), and its post_build commands, run here with bash against the jar
 * this build made, leave exactly the artifact files it declares: a Lambda package (lib/&lt;jar&gt;) and
 * the stack's template.
 */
class BuildspecIT {
    @TempDir
    Path work;

    /** The list items under {@code <section>.<list>} of a small YAML file (a phase's commands, say). */
    private static List<String> items(List<String> lines, String section, String list) {
        List<String> out = new ArrayList<>();
        int sectionIndent = -1;
        int listIndent = -1;
        for (String line : lines) {
            String stripped = line.strip();
            if (stripped.isEmpty() || stripped.startsWith("#")) {
                continue;
            }
            int indent = line.indexOf(stripped);
            if (sectionIndent >= 0 && indent <= sectionIndent) {
                sectionIndent = -1;
                listIndent = -1;
            }
            if (listIndent >= 0 && indent <= listIndent && !stripped.startsWith("- ")) {
                listIndent = -1;
            }
            if (stripped.equals(section + ":")) {
                sectionIndent = indent;
            } else if (sectionIndent >= 0 && stripped.equals(list + ":")) {
                listIndent = indent;
            } else if (listIndent >= 0 && stripped.startsWith("- ")) {
                out.add(stripped.substring(2));
            }
        }
        return out;
    }

    @Test
    void theBuildIsTheReadmesTestCommandAndPostBuildMakesTheDeclaredPackage() throws Exception {
        List<String> spec = Files.readAllLines(Path.of("deploy/buildspec.yml"));
        assertEquals(List.of("mvn -B verify"), items(spec, "build", "commands"));
        assertTrue(Files.readString(Path.of("../README.md")).contains("`mvn -B verify`"), "the README's test command");

        // The checkout as CodeBuild sees it after the build phase: the built jar and the template.
        Path repo = work.resolve("repo");
        Files.createDirectories(repo.resolve("examples/target"));
        Files.createDirectories(repo.resolve("examples/deploy"));
        File[] jars = new File("target").listFiles((d, n) -> n.endsWith("-lambda.jar"));
        assertTrue(jars != null && jars.length == 1, "the build made the Lambda jar");
        Files.copy(jars[0].toPath(), repo.resolve("examples/target/" + jars[0].getName()));
        Files.copy(Path.of("deploy/template.yaml"), repo.resolve("examples/deploy/template.yaml"));
        for (String command : items(spec, "post_build", "commands")) {
            Process p = new ProcessBuilder("bash", "-euo", "pipefail", "-c", command).directory(repo.toFile())
                    .redirectErrorStream(true).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), command);
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), command + ": " + output);
        }
        Path base = repo.resolve("dist");
        List<String> declared = items(spec, "artifacts", "files");
        assertEquals(List.of("lib/cdc-fanout-lambda.jar", "template.yaml"), declared);
        for (String file : declared) {
            assertTrue(Files.isRegularFile(base.resolve(file)), file + " is in the artifact");
        }
        try (JarFile jar = new JarFile(base.resolve("lib/cdc-fanout-lambda.jar").toFile())) {
            assertTrue(jar.getEntry("io/cdcfanout/examples/deploy/InvoiceArchiveHandler.class") != null,
                    "the package holds the handler the template names");
        }
        assertTrue(Files.readString(base.resolve("template.yaml")).contains(
                "io.cdcfanout.examples.deploy.InvoiceArchiveHandler::handleRequest"));
    }

    @Test
    void thePipelineRunsThisBuildspecAndDeploysThePackagesTemplate() throws Exception {
        String pipeline = Files.readString(Path.of("deploy/pipeline.yaml"));
        for (String expected : List.of("BuildSpec: examples/deploy/buildspec.yml", "TemplatePath: Package::template.yaml",
                "\"CodeBucket\": { \"Fn::GetArtifactAtt\": [\"Package\", \"BucketName\"] }",
                "\"CodeKey\": { \"Fn::GetArtifactAtt\": [\"Package\", \"ObjectKey\"] }",
                "iam:PassedToService: cloudformation.amazonaws.com")) {
            assertTrue(pipeline.contains(expected), "pipeline.yaml: " + expected);
        }
        java.util.regex.Matcher wildcard = java.util.regex.Pattern.compile("Action: [a-z0-9-]+:\\*").matcher(pipeline);
        List<String> wildcards = new ArrayList<>();
        while (wildcard.find()) {
            wildcards.add(wildcard.group());
        }
        assertEquals(List.of("Action: kms:*"), wildcards, "no wildcard action but the key policy's administration");
        assertTrue(!pipeline.contains("Action: \"*\""), "no bare wildcard action");
    }
}
