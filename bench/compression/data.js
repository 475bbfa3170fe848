'use strict';
// The benchmark's answer: about 200 KB of JSON (an array of user records), serialised once at
// start so that both servers measure compression and sending, not JSON.stringify.
const users = [];
for (let i = 0; ; i++) {
  users.push({
    id: i,
    name: `User ${i}`,
    email: `user${i}@example.com`,
    active: i % 3 !== 0,
    roles: i % 5 === 0 ? ['admin', 'editor'] : ['reader'],
    score: (i * 7919) % 1000 / 10,
    created: new Date(Date.UTC(2024, i % 12, 1 + (i % 28))).toISOString(),
  });
  if (i % 50 === 0 && JSON.stringify(users).length >= 200 * 1024) break;
}
module.exports = JSON.stringify(users);
