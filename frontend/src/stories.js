// Anonymous stories (the lessons library). A story is sent from the browser
// without credentials to /anon/..., so the server cannot tie it to a session.
// The browser picks a random capability and sends only its SHA-256; it keeps
// the capability in localStorage (and shows it, to carry to another device).
// Reading the answers later sends the capability, again without credentials.
import { sha256Hex, toHex } from './anon.js';

const KEY = 'kintsugi-stories';

function saved() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || '[]');
    return Array.isArray(list) ? list.filter((c) => /^[0-9a-f]{64}$/.test(c)) : [];
  } catch {
    return [];
  }
}

function remember(capability) {
  const list = saved();
  if (!list.includes(capability)) list.push(capability);
  localStorage.setItem(KEY, JSON.stringify(list));
}

async function anonPost(path, body) {
  return fetch(path, {
    method: 'POST',
    credentials: 'omit',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function problemText(res) {
  try {
    const p = await res.json();
    return p.detail || p.title || `error ${res.status}`;
  } catch {
    return `error ${res.status}`;
  }
}

function startSubmit(root) {
  const box = root.querySelector ? root.querySelector('#story-form') : null;
  if (!box || box.dataset.started) return;
  box.dataset.started = '1';
  const form = box.querySelector('form');
  const status = box.querySelector('#story-status');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const capability = toHex(crypto.getRandomValues(new Uint8Array(32)));
    const body = {
      title: form.elements.title.value,
      body: form.elements.body.value,
      reply_check: await sha256Hex(capability),
    };
    status.textContent = 'Sending…';
    const res = await anonPost(`/anon/orgs/${box.dataset.orgId}/stories`, body);
    if (res.status !== 201) {
      status.textContent = `Not shared: ${await problemText(res)}`;
      return;
    }
    remember(capability);
    form.reset();
    form.hidden = true;
    status.textContent = '';
    const done = document.createElement('div');
    done.className = 'notice';
    done.innerHTML =
      '<p><strong>Shared anonymously.</strong> This browser keeps a code that opens the answers; ' +
      'keep a copy to read them elsewhere:</p><p><code class="story-code"></code></p>' +
      '<p><a href="/library/stories/mine">Answers to the stories you shared</a></p>';
    done.querySelector('.story-code').textContent = capability;
    status.after(done);
  });
}

function showThread(list, capability, thread) {
  const item = document.createElement('article');
  item.className = 'story';
  const h = document.createElement('h2');
  h.textContent = thread.title;
  const body = document.createElement('p');
  body.className = 'prewrap';
  body.textContent = thread.body;
  item.append(h, body);
  if (thread.hidden) {
    const note = document.createElement('p');
    note.textContent = 'A facilitator has hidden this story from the library.';
    item.append(note);
  }
  if (thread.answers.length === 0) {
    const none = document.createElement('p');
    none.textContent = 'No answer yet.';
    item.append(none);
  }
  for (const a of thread.answers) {
    const q = document.createElement('blockquote');
    q.className = 'prewrap';
    q.textContent = a.body;
    const by = document.createElement('footer');
    by.textContent = `— ${a.from}, facilitator`;
    q.append(by);
    item.append(q);
  }
  const code = document.createElement('p');
  code.innerHTML = '<small>Code: <code></code></small>';
  code.querySelector('code').textContent = capability;
  item.append(code);
  list.append(item);
}

function startMine(root) {
  const box = root.querySelector ? root.querySelector('#my-stories') : null;
  if (!box || box.dataset.started) return;
  box.dataset.started = '1';
  const status = box.querySelector('#my-stories-status');
  const list = box.querySelector('#my-stories-list');
  const load = async (capabilities) => {
    list.replaceChildren();
    let found = 0;
    for (const capability of capabilities) {
      const res = await anonPost('/anon/stories/thread', { capability });
      if (res.ok) {
        showThread(list, capability, await res.json());
        found += 1;
      }
    }
    status.textContent = found
      ? `${found} ${found === 1 ? 'story' : 'stories'} shared from this browser.`
      : 'This browser has shared no story yet.';
  };
  box.querySelector('form').addEventListener('submit', (event) => {
    event.preventDefault();
    const code = box.querySelector('#story-code-input').value.trim().toLowerCase();
    if (/^[0-9a-f]{64}$/.test(code)) remember(code);
    load(saved());
  });
  load(saved());
}

export function startStories(root = document) {
  startSubmit(root);
  startMine(root);
}
