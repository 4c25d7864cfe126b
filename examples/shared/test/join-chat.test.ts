/**
 * joinChat: a signed-in user's connection served in the hub, announced on arrival and departure.
 */
import { joinChat, type ChatRoom } from '../src/join-chat';

/** A room that records what happens to it; `leave()` ends the connection it serves. */
function recordingRoom(): ChatRoom<string> & { events: string[]; leave(): void } {
  const events: string[] = [];
  const clients = new Set<string>();
  let leave = (): void => {};
  return {
    events,
    clients,
    serve(conn) {
      clients.add(conn);
      events.push(`serve ${conn}`);
      return new Promise((resolve) => {
        leave = () => {
          clients.delete(conn);
          resolve();
        };
      });
    },
    broadcast(message) {
      events.push(`broadcast ${message}`);
    },
    leave: () => leave(),
  };
}

test('announces the user once served and once gone, and logs who is online', async () => {
  const room = recordingRoom();
  const logged: [string, number][] = [];
  const joined = joinChat(room, 'conn-1', 'ann', (event, online) => logged.push([event, online]));
  expect(room.events).toEqual(['serve conn-1', 'broadcast ann joined']);
  expect(logged).toEqual([['joined', 1]]);
  room.leave();
  await joined;
  expect(room.events).toEqual(['serve conn-1', 'broadcast ann joined', 'broadcast ann left']);
  expect(logged).toEqual([
    ['joined', 1],
    ['left', 0],
  ]);
});

test('logs nothing without a log', async () => {
  const room = recordingRoom();
  const joined = joinChat(room, 'conn-1', 'bob');
  room.leave();
  await joined;
  expect(room.events).toEqual(['serve conn-1', 'broadcast bob joined', 'broadcast bob left']);
});
