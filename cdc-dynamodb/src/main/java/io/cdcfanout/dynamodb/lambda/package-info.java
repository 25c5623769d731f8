/** The AWS Lambda handler for DynamoDB stream events. */
package io.cdcfanout.dynamodb.lambda;
