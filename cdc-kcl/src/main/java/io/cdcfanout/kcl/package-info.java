/** Runs a pipeline under KCL 3 with the DynamoDB Streams Kinesis Adapter. */
package io.cdcfanout.kcl;
