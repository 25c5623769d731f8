package io.cdcfanout.examples;

import io.cdcfanout.examples.backfill.BackfillExample;
import io.cdcfanout.examples.backfill.ExportBackfillExample;
import io.cdcfanout.examples.friends.FriendNotificationExample;
import io.cdcfanout.examples.invoices.InvoiceArchive;
import io.cdcfanout.examples.invoices.InvoiceArchiveExample;
import io.cdcfanout.examples.metrics.UsageMetricsExample;
import io.cdcfanout.examples.movies.MoviesExample;
import io.cdcfanout.examples.replication.ReplicationExample;
import io.cdcfanout.examples.welcome.WelcomeEmailExample;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.LoggerFactory;

/**
 * The one-command demo: starts the embedded default (DynamoDB Local, an S3-compatible server, a
 * Firehose stand-in delivering into it), runs every flow of the guide against it, and prints a summary.
 * Exits 0 when every check holds.
 */
public final class Demo {

    /** One line of the summary, and whether its check held. */
    public record Line(String flow, String text, boolean ok) {
    }

    private Demo() {
    }

    public static void main(String[] args) {
        boolean ok;
        try {
            ok = run(System.out).stream().allMatch(Line::ok);
        } catch (RuntimeException e) {
            LoggerFactory.getLogger(Demo.class).error("the flow failed", e);
            ok = false;
        }
        // DynamoDB Local's threads are not daemons: without an explicit exit the JVM would not end.
        System.exit(ok ? 0 : 1);
    }

    /** Runs every flow, printing progress and then the summary; returns the summary's lines. */
    public static List<Line> run(PrintStream out) {
        List<Line> summary = new ArrayList<>();
        Map<String, Long> totals;
        long started = System.nanoTime();
        out.println("cdc-fanout demo: starting DynamoDB Local, S3 (s3proxy) and the Firehose stand-in on loopback");
        try (Embedded env = new Embedded()) {
            out.println();
            out.println("[1/7] Movies: create the table, load the sample, create, read, update and delete");
            MoviesExample.Result movies = MoviesExample.run(env, out);
            summary.add(new Line("movies", movies.changes().size() + " change events from " + movies.loaded()
                    + " loaded movies and 5 writes of Step 3", movies.changes().size() == movies.loaded() + 5));

            out.println();
            out.println("[2/7] Invoice archive: Invoices -> Firehose (delivered to S3) and -> S3 directly, by day");
            InvoiceArchiveExample.Result invoices = InvoiceArchiveExample.run(env, out, 300);
            int direct = lineCount(invoices.s3Objects());
            int viaFirehose = lineCount(invoices.firehoseObjects());
            boolean once = direct == invoices.changes() && unique(invoices.s3Objects())
                    && viaFirehose == invoices.changes() && unique(invoices.firehoseObjects());
            summary.add(new Line("invoices", invoices.changes() + " changes; s3://" + Embedded.BUCKET + "/"
                    + InvoiceArchive.PREFIX + "/: " + invoices.s3Objects().size() + " objects, " + direct
                    + " events; s3://" + Embedded.BUCKET + "/" + Embedded.FIREHOSE_PREFIX + ": "
                    + invoices.firehoseObjects().size() + " objects, " + viaFirehose + " events",
                    once && invoices.deadLetters().isEmpty()));
            summary.add(new Line("lag", "write to delivery, through the poller: p50 " + invoices.lag(0.5)
                    + " ms, p99 " + invoices.lag(0.99) + " ms, max " + invoices.lag(1.0) + " ms over "
                    + invoices.lagMillis().size() + " invoices", invoices.lagMillis().size() == 300));
            invoices.s3Objects().keySet().forEach(k -> out.println("    s3://" + Embedded.BUCKET + "/" + k));
            invoices.firehoseObjects().keySet().forEach(k -> out.println("    s3://" + Embedded.BUCKET + "/" + k));

            out.println();
            out.println("[3/7] Welcome email: only sign-ups send, and a replay sends nothing twice");
            WelcomeEmailExample.Result welcome = WelcomeEmailExample.run(env, out);
            summary.add(new Line("welcome", welcome.sent() + " emails for " + welcome.customers()
                    + " sign-ups, none for " + welcome.ttlExpiries() + " TTL expiry; replay sent "
                    + welcome.sentOnReplay() + ", refused " + welcome.refusedOnReplay(),
                    welcome.sent() == welcome.customers() && welcome.sentOnReplay() == 0
                            && welcome.outbox() == welcome.customers() && welcome.ttlExpiries() == 1));

            out.println();
            out.println("[4/7] Replication: one way to a second region, then two ways without loops");
            ReplicationExample.Result replication = ReplicationExample.run(env, out);
            summary.add(new Line("replication", "replica equal to source: " + (replication.replicaEqual() ? "yes" : "no")
                    + " (" + replication.items() + " items); two-way equal: " + (replication.twoWayEqual() ? "yes" : "no")
                    + ", " + replication.twoWayTaken() + " of " + replication.twoWayChanges() + " changes crossed",
                    replication.replicaEqual() && replication.twoWayEqual()
                            && replication.twoWayTaken() <= replication.twoWayChanges()));

            out.println();
            out.println("[5/7] Usage metrics: calls per user per hour, read three times");
            UsageMetricsExample.Result usage = UsageMetricsExample.run(env, out);
            summary.add(new Line("metrics", "view exact after a first pass and two replays: "
                    + (usage.exact() ? "yes" : "no") + " " + usage.source(), usage.exact()));

            out.println();
            out.println("[6/7] Friend notifications: a user-defined sink fans each picture out to the group");
            FriendNotificationExample.Result friends = FriendNotificationExample.run(env, out);
            summary.add(new Line("friends", friends.notifications() + " notifications (expected " + friends.expected()
                    + "); dead letters: " + friends.deadLetters().size(),
                    friends.notifications() == friends.expected() && friends.deadLetters().size() == 1));
            out.println();
            out.println("[7/7] Backfill: a replica of an existing Customers table, older than its stream;");
            out.println("      then an existing Invoices table into the archive and a view, from an export to S3");
            BackfillExample.Result backfill = BackfillExample.run(env, out);
            ExportBackfillExample.Result fromExport = ExportBackfillExample.run(env, out);
            boolean exportOk = fromExport.archivedOnce() && fromExport.viewExact();
            summary.add(new Line("backfill", "replica equal to source: " + (backfill.replicaEqual() ? "yes" : "no")
                    + " (" + backfill.items() + " customers; " + backfill.loaded() + " older than the stream, "
                    + backfill.snapshotItems() + " sent by the snapshot, " + backfill.changes()
                    + " changes during it); from an export of " + fromExport.exported() + " invoices: archived once "
                    + (fromExport.archivedOnce() ? "yes" : "no") + ", view exact " + (fromExport.viewExact() ? "yes" : "no"),
                    backfill.replicaEqual() && exportOk));
            totals = env.totals();
        }
        out.println();
        out.println("Events per route (delivered; dead-lettered)");
        totals.forEach((name, count) -> {
            if (name.endsWith(".delivered")) {
                String route = name.substring(0, name.length() - ".delivered".length());
                long dead = totals.getOrDefault(route + ".deadLettered", 0L);
                out.printf("  %-16s %6d%s%n", route, count, dead == 0 ? "" : "; " + dead + " dead-lettered");
            }
        });
        long deadLetters = totals.entrySet().stream().filter(e -> e.getKey().endsWith(".deadLettered"))
                .mapToLong(Map.Entry::getValue).sum();
        summary.add(new Line("dead letters", deadLetters + " (the picture posted to a group that doesn't exist)",
                deadLetters == 1));
        out.println();
        out.println("Summary (" + (System.nanoTime() - started) / 1_000_000 + " ms)");
        for (Line line : summary) {
            out.printf("  %-4s %-12s %s%n", line.ok() ? "ok" : "FAIL", line.flow(), line.text());
        }
        return summary;
    }

    private static int lineCount(TreeMap<String, List<String>> objects) {
        return objects.values().stream().mapToInt(List::size).sum();
    }

    /** Whether no event id appears twice across the objects. */
    private static boolean unique(Map<String, List<String>> objects) {
        Set<String> ids = new HashSet<>();
        for (List<String> lines : objects.values()) {
            for (String line : lines) {
                int at = line.indexOf("\"eventId\":\"");
                String id = line.substring(at + 11, line.indexOf('"', at + 11));
                if (!ids.add(id)) {
                    return false;
                }
            }
        }
        return true;
    }
}
