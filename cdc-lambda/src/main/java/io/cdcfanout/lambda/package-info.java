/** The AWS Lambda handler for DynamoDB stream events. */
package io.cdcfanout.lambda;
