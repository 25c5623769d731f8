package io.cdcfanout.examples.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/**
 * The Lambda deployment jar, after {@code package}: within its size target, one SDK HTTP client, no
 * stand-in code, and a handler that builds and answers from the jar alone (an isolated class loader).
 * Regression: the jar was 27.8 MB with DynamoDB Local's Pinpoint and Cognito clients, HttpClient 4, and
 * two registered HTTP services, because examples depends on cdc-local.
 */
class LambdaJarIT {
    /** The target in docs/performance.md. */
    private static final long MAX_BYTES = 18L * 1024 * 1024;

    private static File jar() {
        File[] found = new File("target").listFiles((dir, name) -> name.endsWith("-lambda.jar"));
        assertTrue(found != null && found.length == 1, "one target/*-lambda.jar");
        return found[0];
    }

    @Test
    void theJarIsSmallRegistersOneHttpClientAndCarriesNoStandIn() throws Exception {
        File file = jar();
        System.out.println("Lambda jar: " + file.getName() + " " + file.length() + " bytes");
        assertTrue(file.length() <= MAX_BYTES, "the Lambda jar is " + file.length() + " bytes, over " + MAX_BYTES);
        try (JarFile jar = new JarFile(file)) {
            String services = new String(jar.getInputStream(jar.getEntry(
                    "META-INF/services/software.amazon.awssdk.http.SdkHttpService")).readAllBytes(), StandardCharsets.UTF_8);
            List<String> registered = services.lines().map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
            assertEquals(List.of("software.amazon.awssdk.http.urlconnection.UrlConnectionSdkHttpService"), registered);
            List<String> strays = jar.stream().map(e -> e.getName()).filter(n -> n.startsWith("io/cdcfanout/local/")
                    || n.startsWith("com/amazonaws/services/dynamodbv2/local/") || n.startsWith("org/apache/http/")
                    || n.startsWith("org/apache/hc/") || n.startsWith("software/amazon/awssdk/services/pinpoint/")
                    || n.startsWith("software/amazon/awssdk/services/cognitoidentity") || n.startsWith("org/gaul/"))
                    .limit(5).toList();
            assertEquals(List.of(), strays);
        }
    }

    @Test
    void theHandlerBuildsAndAnswersFromTheJarAlone() throws Exception {
        try (URLClassLoader jar = new URLClassLoader(new URL[] {jar().toURI().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Object region = jar.loadClass("software.amazon.awssdk.regions.Region").getMethod("of", String.class)
                    .invoke(null, "eu-west-1");
            Object credentials = jar.loadClass("software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider")
                    .getMethod("create").invoke(null);
            Object s3 = client(jar, "software.amazon.awssdk.services.s3.S3Client", region, credentials);
            Object firehose = client(jar, "software.amazon.awssdk.services.firehose.FirehoseClient", region, credentials);
            Class<?> handlerType = jar.loadClass("io.cdcfanout.examples.deploy.InvoiceArchiveHandler");
            Object handler = handlerType.getConstructor(s3.getClass().getInterfaces()[0],
                    firehose.getClass().getInterfaces()[0], String.class, String.class)
                    .newInstance(s3, firehose, "invoices-archive", "invoices");
            Class<?> eventType = jar.loadClass("com.amazonaws.services.lambda.runtime.events.DynamodbEvent");
            Object event = eventType.getConstructor().newInstance();
            eventType.getMethod("setRecords", List.class).invoke(event, List.of());
            Method handle = handlerType.getMethod("handleRequest", eventType,
                    jar.loadClass("com.amazonaws.services.lambda.runtime.Context"));
            Object response = handle.invoke(handler, event, null);
            assertEquals(List.of(), response.getClass().getMethod("getBatchItemFailures").invoke(response));
        }
    }

    private static Object client(ClassLoader jar, String type, Object region, Object credentials) throws Exception {
        Class<?> clientType = jar.loadClass(type);
        Object builder = clientType.getMethod("builder").invoke(null);
        Class<?> builderType = jar.loadClass("software.amazon.awssdk.awscore.client.builder.AwsClientBuilder");
        builderType.getMethod("region", region.getClass()).invoke(builder, region);
        builderType.getMethod("credentialsProvider", jar.loadClass(
                "software.amazon.awssdk.auth.credentials.AwsCredentialsProvider")).invoke(builder, credentials);
        return jar.loadClass("software.amazon.awssdk.utils.builder.SdkBuilder").getMethod("build").invoke(builder);
    }
}
