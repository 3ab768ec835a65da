/** Default limits from the contract. The server may be configured tighter; clients use these for hints. */
export const LIMITS = {
  usernameMin: 3,
  usernameMax: 32,
  usernamePattern: /^[A-Za-z0-9_.-]+$/,
  passwordMin: 8,
  passwordMax: 128,
  displayNameMax: 64,
  emailMax: 254,
  roomNameMin: 1,
  roomNameMax: 64,
  descriptionMax: 500,
  messageTextMax: 4000,
  clientIdMax: 64,
  historyDefault: 50,
  historyMax: 100,
  /** GET /api/search (v2): the query's length after trimming, and results per page. */
  searchQueryMax: 200,
  searchDefault: 20,
  searchMax: 50,
  userSearchDefault: 100,
  userSearchMax: 200,
  /** Pages of rooms, DMs and members (v2). */
  listPageDefault: 100,
  listPageMax: 200,
  /** presence:list pages (v2). */
  presencePageDefault: 100,
  presencePageMax: 200,
  /** Users one socket may watch with presence:subscribe (v2). */
  presenceSubscribeMax: 500,
  /** Online members in a room:join ack (v2). */
  roomJoinOnlineMax: 100,
  /** Reactions (v2): distinct emoji per message, and the reacting user ids each reaction lists. */
  reactionsPerMessageMax: 20,
  reactionUserIdsMax: 50,
  /** Replies (v2): how much of the parent's text the quote carries. */
  replyQuoteMax: 200,
  uploadMaxBytes: 5 * 1024 * 1024,
  socketPacketMaxBytes: 64 * 1024,
  /** Largest JSON body a REST write accepts. */
  jsonBodyMaxBytes: 64 * 1024,
} as const;
