/**
 * A signed-in user's connection joining the chat hub, announced to everyone: what each framework
 * chat's WebSocket handler does with the connection its framework upgraded.
 *
 * @module
 */

/**
 * What {@link joinChat} needs of a hub; the chat example's `Hub` is one. (Structural, so that
 * this package need not depend on the chat example, which depends on it.)
 */
export interface ChatRoom<TConn> {
  /** Runs the connection as a client until it leaves; resolves once it is closed. */
  serve(conn: TConn): Promise<void>;
  /** Sends a text message to every client. */
  broadcast(message: string): void;
  /** The clients currently in the room. */
  readonly clients: { readonly size: number };
}

/**
 * Serves `conn` in `room` as `user`: "<user> joined" is broadcast once the connection is in,
 * "<user> left" once it has left, and `log` hears of both with the number of users online.
 * Resolves after the "left" broadcast; never rejects, as long as `room.serve` never does (the
 * chat example's hub never does).
 */
export async function joinChat<TConn>(
  room: ChatRoom<TConn>,
  conn: TConn,
  user: string,
  log: (event: 'joined' | 'left', online: number) => void = () => {},
): Promise<void> {
  const served = room.serve(conn);
  log('joined', room.clients.size);
  room.broadcast(`${user} joined`);
  await served;
  log('left', room.clients.size);
  room.broadcast(`${user} left`);
}
