#!/usr/bin/env node
// A reference AWS CDK v2 app, written the way a security-minded team would, synthesised offline
// in CI (`.ci/cdk-synth`) so rcfge can validate the CloudFormation template the CDK emits,
// including the CDK's own custom resources (Custom::S3AutoDeleteObjects, Custom::LogRetention,
// Custom::VpcRestrictDefaultSG) and their provider functions.
//
// The stack is environment-agnostic: nothing here looks anything up or needs AWS credentials
// at synth time. Plain CommonJS, so there is no compile step.
'use strict';

const cdk = require('aws-cdk-lib');
const { Duration, RemovalPolicy } = cdk;
const apigateway = require('aws-cdk-lib/aws-apigateway');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');
const cloudwatchActions = require('aws-cdk-lib/aws-cloudwatch-actions');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const ec2 = require('aws-cdk-lib/aws-ec2');
const ecs = require('aws-cdk-lib/aws-ecs');
const iam = require('aws-cdk-lib/aws-iam');
const kms = require('aws-cdk-lib/aws-kms');
const lambda = require('aws-cdk-lib/aws-lambda');
const lambdaEventSources = require('aws-cdk-lib/aws-lambda-event-sources');
const logs = require('aws-cdk-lib/aws-logs');
const s3 = require('aws-cdk-lib/aws-s3');
const sfn = require('aws-cdk-lib/aws-stepfunctions');
const sns = require('aws-cdk-lib/aws-sns');
const subscriptions = require('aws-cdk-lib/aws-sns-subscriptions');
const sqs = require('aws-cdk-lib/aws-sqs');

const API_HANDLER = `
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
const ddb = new DynamoDBClient({});
const sqs = new SQSClient({});
exports.handler = async (event) => {
  const id = event.requestContext ? event.requestContext.requestId : String(Date.now());
  await ddb.send(new PutItemCommand({
    TableName: process.env.TABLE_NAME,
    Item: { pk: { S: 'order#' + id }, sk: { S: 'v0' } },
  }));
  await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: id }));
  return { statusCode: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) };
};
`;

const WORKER_HANDLER = `
exports.handler = async (event) => {
  const failures = [];
  for (const record of event.Records) {
    if (!record.body) failures.push({ itemIdentifier: record.messageId });
  }
  return { batchItemFailures: failures };
};
`;

class ReferenceAppStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    // The insecure twin flips one setting per resource to what a careless team would write, so
    // CI can show that each is refused, and with what advice (`.ci/reference-app`).
    const insecure = Boolean(props && props.insecure);
    const pick = (secure, unsafe) => (insecure ? unsafe : secure);

    // Every role the app or the CDK creates carries the organisation's permissions boundary.
    if (!insecure) {
      iam.PermissionsBoundary.of(this).apply(
        iam.ManagedPolicy.fromManagedPolicyName(this, 'OrgBoundary', 'org-permissions-boundary'));
    }

    // One customer-managed key for the data stores, rotated yearly.
    const key = new kms.Key(this, 'DataKey', {
      description: 'Reference app data key (S3, DynamoDB, SNS)',
      enableKeyRotation: pick(true, false),
      alias: 'alias/reference-app/data',
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });

    // Network: two AZs, one NAT gateway, flow logs, default security group locked down
    // (the @aws-cdk/aws-ec2:restrictDefaultSecurityGroup flag in cdk.json).
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16'),
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        // Public subnets hold the NAT gateway only: nothing gets a public IP by default.
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: pick(false, true) },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
    });
    const flowLogGroup = new logs.LogGroup(this, 'VpcFlowLogs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    // Storage: access-log bucket (SSE-S3, as S3 server access logging requires) and the data
    // bucket (SSE-KMS). Both private, TLS-only, versioned, emptied on stack deletion.
    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    const bucket = new s3.Bucket(this, 'DataBucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: pick(s3.BlockPublicAccess.BLOCK_ALL, new s3.BlockPublicAccess({
        blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: false, restrictPublicBuckets: false,
      })),
      publicReadAccess: pick(false, true),
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'data-bucket/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    // Messaging: work queue with a dead-letter queue, both SQS-managed SSE and TLS-only.
    const deadLetters = new sqs.Queue(this, 'OrdersDlq', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, 'OrdersQueue', {
      encryption: pick(sqs.QueueEncryption.SQS_MANAGED, sqs.QueueEncryption.UNENCRYPTED),
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(60),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
    });

    const topic = new sns.Topic(this, 'OrderEvents', {
      displayName: 'Reference app order events',
      masterKey: pick(key, undefined),
      enforceSSL: true,
      signatureVersion: '2',
    });
    topic.addSubscription(new subscriptions.SqsSubscription(queue, { rawMessageDelivery: true }));

    // CloudWatch publishes alarms to the encrypted topic: it may use the key for this account's
    // alarms only.
    key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
    }));
    const alarmTopic = new sns.Topic(this, 'OpsAlarms', {
      displayName: 'Reference app alarms',
      masterKey: key,
      enforceSSL: true,
      signatureVersion: '2',
    });

    // Data: DynamoDB with a customer-managed key and point-in-time recovery.
    const table = new dynamodb.Table(this, 'Orders', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      ...pick(
        { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key },
        { encryption: dynamodb.TableEncryption.AWS_OWNED }),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: false,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Compute: the API handler keeps its logs for a month through the CDK's LogRetention
    // custom resource; the queue worker uses an explicit log group.
    const apiHandler = new lambda.Function(this, 'ApiHandler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(API_HANDLER),
      memorySize: 256,
      timeout: Duration.seconds(10),
      tracing: lambda.Tracing.ACTIVE,
      environmentEncryption: pick(key, undefined),
      logRetention: logs.RetentionDays.THREE_MONTHS,
      environment: {
        TABLE_NAME: table.tableName,
        QUEUE_URL: queue.queueUrl,
        BUCKET_NAME: bucket.bucketName,
      },
    });
    table.grantWriteData(apiHandler);
    queue.grantSendMessages(apiHandler);
    bucket.grantRead(apiHandler);
    if (insecure) {
      bucket.grantRead(new iam.AccountPrincipal('444455556666'));
    }

    const workerLogs = new logs.LogGroup(this, 'WorkerLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const worker = new lambda.Function(this, 'QueueWorker', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(WORKER_HANDLER),
      timeout: Duration.seconds(30),
      logGroup: workerLogs,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    worker.addEventSource(new lambdaEventSources.SqsEventSource(queue, {
      batchSize: 10,
      reportBatchItemFailures: true,
    }));

    // API: REST API with access logs and a Lambda proxy integration.
    const apiLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const api = new apigateway.RestApi(this, 'OrdersApi', {
      description: 'Reference app orders API',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        accessLogDestination: new apigateway.LogGroupLogDestination(apiLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        throttlingRateLimit: 50,
        throttlingBurstLimit: 100,
      },
    });
    const orders = api.root.addResource('orders');
    orders.addMethod('POST', new apigateway.LambdaIntegration(apiHandler), {
      authorizationType: pick(apigateway.AuthorizationType.IAM, apigateway.AuthorizationType.NONE),
    });

    // Workflow: a small state machine with logging and tracing.
    const sfnLogs = new logs.LogGroup(this, 'WorkflowLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const accept = new sfn.Pass(this, 'Accept', { result: sfn.Result.fromObject({ accepted: true }) });
    const done = new sfn.Succeed(this, 'Done');
    new sfn.StateMachine(this, 'OrderWorkflow', {
      definitionBody: sfn.DefinitionBody.fromChainable(accept.next(done)),
      timeout: Duration.minutes(5),
      tracingEnabled: true,
      logs: { destination: sfnLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });

    // Monitoring: page when messages land in the DLQ or the queue backs up.
    const dlqAlarm = new cloudwatch.Alarm(this, 'DlqNotEmpty', {
      alarmDescription: 'Orders are failing processing and landing in the DLQ',
      metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    dlqAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alarmTopic));
    const ageAlarm = new cloudwatch.Alarm(this, 'QueueBacklog', {
      alarmDescription: 'Oldest order message is older than five minutes',
      metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1) }),
      threshold: 300,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    ageAlarm.addAlarmAction(new cloudwatchActions.SnsAction(alarmTopic));

    // Containers: a Fargate service in the private subnets, no load balancer.
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'WebTask', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const webLogs = new logs.LogGroup(this, 'WebLogs', {
      retention: pick(logs.RetentionDays.THREE_MONTHS, logs.RetentionDays.ONE_WEEK),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    taskDefinition.addContainer('nginx', {
      image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx:latest'),
      essential: true,
      readonlyRootFilesystem: false,
      portMappings: [{ containerPort: 80 }],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'web', logGroup: webLogs }),
    });
    topic.grantPublish(taskDefinition.taskRole);
    const service = new ecs.FargateService(this, 'WebService', {
      cluster,
      taskDefinition,
      desiredCount: 1,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      assignPublicIp: pick(false, true),
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { enable: true, rollback: true },
      enableExecuteCommand: false,
      platformVersion: ecs.FargatePlatformVersion.LATEST,
    });

    if (insecure) {
      service.connections.allowFrom(ec2.Peer.anyIpv4(), ec2.Port.tcp(22), 'SSH from anywhere');
    }

    new cdk.CfnOutput(this, 'ApiUrl', { value: api.url });
    new cdk.CfnOutput(this, 'BucketName', { value: bucket.bucketName });
  }
}

const app = new cdk.App();
const stacks = [
  new ReferenceAppStack(app, 'ReferenceApp', {
    description: 'rcfge reference CDK app (synthesised offline in CI)',
  }),
  new ReferenceAppStack(app, 'ReferenceAppInsecure', {
    description: 'rcfge reference CDK app with one insecure setting per resource (must be refused)',
    insecure: true,
  }),
];
for (const stack of stacks) {
  cdk.Tags.of(stack).add('app', 'reference-app');
  cdk.Tags.of(stack).add('owner', 'platform-security');
}
app.synth();
