// MLOps Lab's service worker: the ride-duration service at `<app folder>/api/…`.
//
// A service worker cannot run the model itself (the model, its vectorizer and the
// prediction log live in the app's wasm), so it forwards each `api/` request to an open
// MLOps Lab window through a MessageChannel and answers with what that window replies.
// `fetch("api/predict", {method: "POST", body})` from the page, or from the browser
// console, then behaves like the course's Flask service. Every other request is left
// alone and goes to the network as usual.

const TIMEOUT_MS = 5000;
let nextId = 1;

// Take over at once, including the page that registered us, so `api/` works on the
// first visit without a reload.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const api = new URL('api/', self.registration.scope);
  const url = new URL(event.request.url);
  if (url.origin !== api.origin || !url.pathname.startsWith(api.pathname)) {
    return; // not ours: the network handles it
  }
  const path = '/' + url.pathname.slice(api.pathname.length);
  event.respondWith(answer(event.request, path, event.clientId));
});

function jsonResponse(status, value) {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

// App windows under our scope; the one that sent the request first.
async function appWindows(clientId) {
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const ours = all.filter((client) => client.url.startsWith(self.registration.scope));
  ours.sort((a, b) => (b.id === clientId) - (a.id === clientId) || b.focused - a.focused);
  return ours;
}

// Posts one request to one window; resolves with its reply, or null after `waitMs`.
function ask(client, message, waitMs) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => {
      channel.port1.close();
      resolve(null);
    }, waitMs);
    channel.port1.onmessage = (reply) => {
      clearTimeout(timer);
      channel.port1.close();
      resolve(reply.data);
    };
    client.postMessage(message, [channel.port2]);
  });
}

async function answer(request, path, clientId) {
  const message = {
    kind: 'mlops-lab-request',
    id: nextId++,
    method: request.method,
    path,
    body: request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text(),
  };
  const deadline = Date.now() + TIMEOUT_MS;
  // A window that is still starting (or closing) does not answer: try the next one.
  for (const client of await appWindows(clientId)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const reply = await ask(client, message, Math.min(left, 2500));
    if (reply) {
      try {
        return new Response(reply.body, {
          status: reply.status,
          headers: { 'Content-Type': reply.contentType },
        });
      } catch (error) {
        return jsonResponse(502, { error: `the page's answer was not a valid response: ${error}` });
      }
    }
  }
  return jsonResponse(503, {
    error: 'open the MLOps Lab page: it computes the predictions',
  });
}
