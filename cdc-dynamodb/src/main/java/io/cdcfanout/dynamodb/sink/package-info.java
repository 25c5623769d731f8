/** Sinks that write to DynamoDB tables: replication and materialized views. */
package io.cdcfanout.dynamodb.sink;
