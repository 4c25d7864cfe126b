import { DeadlineTimer } from '../src/deadline';

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  jest.useRealTimers();
});

test('fires once the deadline passes, not before', () => {
  const expired = jest.fn();
  const deadline = new DeadlineTimer(expired);
  deadline.set(Date.now() + 100);
  deadline.arm();
  jest.advanceTimersByTime(99);
  expect(expired).not.toHaveBeenCalled();
  expect(deadline.passed()).toBe(false);
  jest.advanceTimersByTime(1);
  expect(expired).toHaveBeenCalledTimes(1);
  expect(deadline.passed()).toBe(true);
});

test('a later deadline keeps the running timer and is honoured when it fires', () => {
  const expired = jest.fn();
  const deadline = new DeadlineTimer(expired);
  deadline.set(Date.now() + 100);
  deadline.arm();
  const setTimeoutSpy = jest.spyOn(global, 'setTimeout');
  for (let i = 1; i <= 10; i++) {
    deadline.set(Date.now() + 100 + i * 10);
    deadline.arm();
  }
  expect(setTimeoutSpy).not.toHaveBeenCalled(); // no churn while the deadline only moves later
  jest.advanceTimersByTime(100);
  expect(expired).not.toHaveBeenCalled(); // re-armed for the later deadline
  jest.advanceTimersByTime(100);
  expect(expired).toHaveBeenCalledTimes(1);
  setTimeoutSpy.mockRestore();
});

test('an earlier deadline re-arms at once', () => {
  const expired = jest.fn();
  const deadline = new DeadlineTimer(expired);
  deadline.set(Date.now() + 1000);
  deadline.arm();
  deadline.set(Date.now() + 10);
  deadline.arm();
  jest.advanceTimersByTime(10);
  expect(expired).toHaveBeenCalledTimes(1);
});

test('clearing or stopping cancels it', () => {
  const expired = jest.fn();
  const deadline = new DeadlineTimer(expired);
  deadline.set(Date.now() + 10);
  deadline.arm();
  deadline.set(null);
  jest.advanceTimersByTime(100);
  deadline.set(Date.now() + 10);
  deadline.arm();
  deadline.stop();
  jest.advanceTimersByTime(100);
  expect(expired).not.toHaveBeenCalled();
  expect(deadline.at).not.toBeNull();
  expect(deadline.passed()).toBe(true);
});
