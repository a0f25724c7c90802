import { describe, expect, it } from 'vitest';
import { MalformedMessageError } from '../../src/bus/malformed-message-error.js';
import {
  decodeCommand,
  decodeReply,
  encodeMessage,
  type RemoteCommand,
  type RemoteReply,
} from '../../src/remote-saga/remote-protocol.js';

const command: RemoteCommand = {
  sagaId: 's-1',
  sagaName: 'book',
  step: 'charge',
  kind: 'action',
  attempt: 2,
  input: { amount: 10 },
  outputs: { seats: { id: 1 } },
};

function body(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

describe('remote protocol', () => {
  it('decodes what it encodes', () => {
    expect(decodeCommand(encodeMessage(command))).toEqual(command);
    const replies: RemoteReply[] = [
      { status: 'ok', output: { id: 3 }, duplicate: true },
      { status: 'rejected', reason: 'payment-declined', message: 'card declined' },
      { status: 'retryable', message: 'database unavailable' },
      { status: 'failed', message: 'bug' },
    ];
    for (const reply of replies) expect(decodeReply(encodeMessage(reply))).toEqual(reply);
  });

  it.each([
    ['not JSON', Buffer.from('{"sagaId":'), 'the body of a remote command is not JSON'],
    ['an array', body([command]), 'a remote command is not a JSON object'],
    ['null', body(null), 'a remote command is not a JSON object'],
    ['without sagaId', body({ ...command, sagaId: undefined }), "a remote command has no valid 'sagaId'"],
    ['with an unknown kind', body({ ...command, kind: 'undo' }), "a remote command has no valid 'kind'"],
    [
      'with a fractional attempt',
      body({ ...command, attempt: 1.5 }),
      "a remote command has no valid 'attempt'",
    ],
    ['with outputs as a list', body({ ...command, outputs: [] }), "a remote command has no valid 'outputs'"],
  ])('refuses a command %s with MalformedMessageError', (_, content, message) => {
    expect(() => decodeCommand(content)).toThrow(MalformedMessageError);
    expect(() => decodeCommand(content)).toThrow(message);
  });

  it.each([
    ['with an unknown status', { status: 'maybe' }, "a remote reply has no valid 'status'"],
    ['ok without duplicate', { status: 'ok', output: 1 }, "a remote 'ok' reply has no valid 'duplicate'"],
    [
      'rejected without reason',
      { status: 'rejected', message: 'no' },
      "a remote 'rejected' reply has no valid 'reason'",
    ],
    ['failed without message', { status: 'failed' }, "a remote 'failed' reply has no valid 'message'"],
  ])('refuses a reply %s with MalformedMessageError', (_, reply, message) => {
    expect(() => decodeReply(body(reply))).toThrow(MalformedMessageError);
    expect(() => decodeReply(body(reply))).toThrow(message);
  });
});
