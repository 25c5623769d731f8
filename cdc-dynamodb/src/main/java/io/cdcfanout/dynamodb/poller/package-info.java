/** The embedded stream poller and its checkpoint stores. */
package io.cdcfanout.dynamodb.poller;
