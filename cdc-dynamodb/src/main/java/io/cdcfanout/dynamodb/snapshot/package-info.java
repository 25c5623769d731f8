/**
 * Snapshots of a table's current items, as {@link io.cdcfanout.api.Operation#SNAPSHOT} events through
 * the same pipeline as the stream's changes, for a backfill: {@link io.cdcfanout.dynamodb.snapshot.TableSnapshot}
 * reads by Parallel Scan with resumable segments.
 */
package io.cdcfanout.dynamodb.snapshot;
