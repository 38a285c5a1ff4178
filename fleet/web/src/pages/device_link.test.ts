import { describe, expect, it } from 'vitest';
import type { DeviceCommand } from '../api/models';
import { closeInfo, commandLabel, consoleUrl, cpuText, droppedCount, lastTraceCommand, memoryText, outcomeText, uptimeText } from './device_link';

const cmd = (over: Partial<DeviceCommand>): DeviceCommand => ({
  id: 1, device_id: 1, kind: 'identify', payload: {}, status: 'queued', rollout_id: null, created_at: 1, updated_at: 1, ...over,
});

describe('device link', () => {
  it('recognises only the link’s own dropped-lines marker', () => {
    expect(droppedCount('12 lines dropped')).toBe(12);
    expect(droppedCount('1 lines dropped')).toBe(1);
    expect(droppedCount('[sensor] 12 lines dropped')).toBeNull();
    expect(droppedCount('12 lines dropped!')).toBeNull();
    expect(droppedCount('lines dropped')).toBeNull();
  });

  it('names commands in words', () => {
    expect(commandLabel(cmd({ kind: 'restart_component', payload: { component: 'sensor' } }))).toBe('Restart component sensor');
    expect(commandLabel(cmd({ kind: 'restart_system' }))).toBe('Restart the device');
    expect(commandLabel(cmd({ kind: 'trace_on' }))).toBe('Start tracing');
    expect(commandLabel(cmd({ kind: 'trace_off' }))).toBe('Stop tracing');
    expect(commandLabel(cmd({ kind: 'update', payload: { release_id: 4, rollout_id: 2 } }))).toBe('Update to release #4');
    expect(commandLabel(cmd({ kind: 'something_new', payload: null }))).toBe('something new');
  });

  it('shows the device’s outcome, else where delivery stands', () => {
    expect(outcomeText(cmd({ status: 'done', outcome: 'done', detail: '' }))).toBe('done');
    expect(outcomeText(cmd({ status: 'failed', outcome: 'refused', detail: 'no such component' }))).toBe('refused: no such component');
    expect(outcomeText(cmd({ status: 'failed', outcome: 'unknown_kind' }))).toBe('unknown kind');
    expect(outcomeText(cmd({ status: 'queued' }))).toBe('not delivered yet');
    expect(outcomeText(cmd({ status: 'sent', deliveries: 1 }))).toBe('sent, no answer yet');
    expect(outcomeText(cmd({ status: 'sent', deliveries: 3 }))).toBe('sent 3 times, no answer yet');
    expect(outcomeText(cmd({ status: 'cancelled' }))).toBe('withdrawn before delivery');
  });

  it('formats the reported numbers', () => {
    expect(uptimeText(45_000)).toBe('45 s');
    expect(uptimeText(723_000)).toBe('12 min 3 s');
    expect(uptimeText((5 * 3600 + 12 * 60) * 1000)).toBe('5 h 12 min');
    expect(uptimeText((3 * 86400 + 4 * 3600 + 59) * 1000)).toBe('3 d 4 h');
    expect(cpuText(125)).toBe('12.5 %');
    expect(cpuText(0)).toBe('0.0 %');
    expect(memoryText(1536)).toBe('1.5 MiB');
    expect(memoryText(256)).toBe('256 KiB');
  });

  it('finds the newest trace command', () => {
    const list = [cmd({ id: 5, kind: 'identify' }), cmd({ id: 4, kind: 'trace_off' }), cmd({ id: 3, kind: 'trace_on' })];
    expect(lastTraceCommand(list)?.id).toBe(4);
    expect(lastTraceCommand([cmd({})])).toBeNull();
  });

  it('opens the console on the page’s origin', () => {
    expect(consoleUrl({ protocol: 'http:', host: '127.0.0.1:7780' }, 12)).toBe('ws://127.0.0.1:7780/api/v1/devices/12/console');
    expect(consoleUrl({ protocol: 'https:', host: 'fleet.example' }, 3)).toBe('wss://fleet.example/api/v1/devices/3/console');
  });

  it('says what a closed console means', () => {
    expect(closeInfo(4404, 'device offline', false).title).toBe('Device offline');
    expect(closeInfo(4409, 'console limit', false).title).toBe('Console limit reached');
    expect(closeInfo(4403, 'role_changed', true)).toMatchObject({ title: 'Not allowed', retry: false });
    expect(closeInfo(4401, 'session_ended', true)).toMatchObject({ title: 'Signed out', retry: false });
    expect(closeInfo(1006, '', false).title).toBe('Could not connect');
    expect(closeInfo(1006, '', true).title).toBe('Connection lost');
    expect(closeInfo(1000, '', true).title).toBe('Console closed');
    expect(closeInfo(4999, 'odd', true).text).toContain('code 4999 (odd)');
  });
});
