/**
 * The local stack's Powertools: the dispatcher's log lines and EMF metrics go to the stream it
 * is given (the log file), nothing to the terminal, in the same JSON Powertools prints on Lambda.
 */
import { Writable } from 'node:stream';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { powertoolsWritingTo } from '../../../local/powertools-output.js';
import { METRIC_NAMESPACE } from '../../../shared/contract/metrics.js';
import { powertoolsTelemetry } from '../../../shared/dispatch/telemetry.js';
import { emfDocuments, jsonLines } from '../../support/emf.js';
import { printedDuring } from '../../support/printed.js';
import { lambdaContext } from '../../support/sqs-events.js';

function collector() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('powertoolsWritingTo', () => {
  it('writes log lines, with the Lambda context, as one JSON document per line', async () => {
    const out = collector();
    const { logger } = powertoolsWritingTo(out.stream);
    const context = lambdaContext({ functionName: 'local-dispatcher' });
    const { printed: terminal } = await printedDuring(() => {
      logger.addContext(context);
      logger.info('message rejected', { messageId: 'm1' });
      logger.warn('message left for redelivery', { messageId: 'm2' });
      logger.createChild({ serviceName: 'child' }).error('from a child logger');
    });
    expect(terminal).toBe('');
    expect(jsonLines(out.text())).toEqual([
      expect.objectContaining({
        level: 'INFO',
        message: 'message rejected',
        messageId: 'm1',
        service: 'sluice-dispatcher',
        function_name: 'local-dispatcher',
        function_request_id: context.awsRequestId,
      }),
      expect.objectContaining({ level: 'WARN', messageId: 'm2' }),
      expect.objectContaining({ level: 'ERROR', service: 'child' }),
    ]);
  });

  it("writes the telemetry's single metrics and stored metrics as EMF documents", async () => {
    const out = collector();
    const { logger, metrics } = powertoolsWritingTo(out.stream);
    const { printed: terminal } = await printedDuring(() => {
      powertoolsTelemetry(logger, metrics).count('Results', 1, {
        Service: 'ec2',
        Status: 'succeeded',
      });
      metrics.addMetric('Stored', MetricUnit.Count, 2);
      metrics.publishStoredMetrics();
    });
    expect(terminal).toBe('');
    const emf = emfDocuments(jsonLines(out.text()), METRIC_NAMESPACE);
    expect(emf.map((e) => e.names)).toEqual([['Results'], ['Stored']]);
    expect(emf[0]?.doc).toMatchObject({
      service: 'sluice-dispatcher',
      Service: 'ec2',
      Status: 'succeeded',
      Results: 1,
    });
  });

  it("turns Metrics' warning about an empty flush into a log line in the same stream", async () => {
    const out = collector();
    const { metrics } = powertoolsWritingTo(out.stream);
    const { printed: terminal } = await printedDuring(() => metrics.publishStoredMetrics());
    expect(terminal).toBe('');
    expect(jsonLines(out.text())).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: expect.stringContaining('No application metrics to publish'),
      }),
    ]);
  });
});
