// The chat page: loads the history, sends messages, and shows the reply as it streams in.
(() => {
  const log = document.getElementById('log');
  const form = document.getElementById('chat');
  const input = document.getElementById('message');

  const add = (role, text) => {
    const item = document.createElement('li');
    item.className = role;
    item.textContent = text;
    log.appendChild(item);
    item.scrollIntoView({ block: 'end' });
    return item;
  };

  fetch('/history?limit=50')
    .then((res) => res.json())
    .then((page) => {
      for (const message of page.items.reverse()) add(message.role, message.content);
    });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = input.value;
    input.value = '';
    add('user', message);
    const reply = add('assistant', '');
    const res = await fetch('/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ message }),
    });
    if (!res.ok || !res.body) {
      reply.classList.add('error');
      reply.textContent = `Could not send (${res.status}). Reload the page and try again.`;
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const events = buffer.split('\n\n');
      buffer = events.pop();
      for (const block of events) {
        const type = /^event: (\w+)/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type === 'token' && data) reply.textContent += JSON.parse(data);
        if (type === 'error' && data) {
          reply.classList.add('error');
          reply.textContent = `Could not answer: ${JSON.parse(data).message}`;
        }
      }
    }
  });
})();
