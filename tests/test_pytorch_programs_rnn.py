"""Recurrent programs as their tutorials write them, with only the imports
changed: PyTorch's "NLP From Scratch" classifying names with a character-level
RNN (the hand-written RNN module and the newer ``nn.RNN`` version) and
generating names, and Dive into Deep Learning's RNN chapters (RNN from
scratch, the concise ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` models, deep and
bidirectional, and the GRU encoder-decoder with a masked cross-entropy).

The data are tiny and built in.  Each program is written once, as a function
of the library it runs on; the engine's run must train (its loss falls), and
where PyTorch is installed the ``..._matches_pytorch`` twin runs the same
program on PyTorch from the random values the engine's run drew (initial
weights) and compares losses and parameters.
"""
import collections
import math
import random
import string

import numpy as np
import pytest

from test_pytorch_programs_d2l import ENGINE, Start, both, close, d2l


def engine_run(program, *args, **kwargs):
    random.seed(0)
    ENGINE.torch.manual_seed(0)
    return program(ENGINE, Start(), *args, **kwargs)


# d2l's Accumulator calls float() on a loss that requires grad; PyTorch warns
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


# -- tiny built-in data ------------------------------------------------------------

NAMES = {
    "English": ["Smith", "Jones", "Brown", "Taylor", "Wilson", "Walker", "Wright", "Green"],
    "French": ["Dubois", "Moreau", "Laurent", "Lefevre", "Rousseau", "Fontaine", "Bernard"],
    "Italian": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo"],
    "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Nakamura"],
}

TEXT = ("the time traveller for so it will be convenient to speak of him was "
        "expounding a recondite matter to us his grey eyes shone and twinkled and "
        "his usually pale face was flushed and animated the fire burned brightly "
        "and the soft radiance of the incandescent lights in the lilies of silver "
        "caught the bubbles that flashed and passed in our glasses ") * 2

PAIRS = ("go .\tva !\nhi .\tsalut !\nrun !\tcours !\nwho ?\tqui ?\nwow !\tça alors !\n"
         "i lost .\tj'ai perdu .\ni'm home .\tje suis chez moi .\nhe's calm .\til est calme .\n"
         "i'm ok .\tje vais bien .\nfire !\tau feu !\nhelp !\tà l'aide !\nstop !\tarrête-toi !")


def falls(losses):
    assert all(math.isfinite(l) for l in losses), losses
    assert losses[-1] < losses[0], losses


def params_of(net):
    return [p.detach().numpy().copy() for p in net.parameters()]


# -- (1) PyTorch tutorial: classifying names with a character-level RNN -------------

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)


def char_rnn_classification(lib, start, n_iters=60, learning_rate=0.005):
    torch, nn = lib.torch, lib.nn
    category_lines = NAMES
    all_categories = list(NAMES)
    n_categories = len(all_categories)

    def letterToIndex(letter):
        return all_letters.find(letter)

    def letterToTensor(letter):
        tensor = torch.zeros(1, n_letters)
        tensor[0][letterToIndex(letter)] = 1
        return tensor

    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    assert letterToTensor('J').size() == (1, n_letters)
    assert lineToTensor('Jones').size() == torch.Size([5, 1, n_letters])

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(input_size + hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            combined = torch.cat((input, hidden), 1)
            hidden = self.i2h(combined)
            output = self.i2o(combined)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    n_hidden = 32
    rnn = start.module(torch, RNN(n_letters, n_hidden, n_categories))

    input = letterToTensor('A')
    hidden = torch.zeros(1, n_hidden)
    output, next_hidden = rnn(input, hidden)
    assert output.shape == (1, n_categories)

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    def randomChoice(l):
        return l[random.randint(0, len(l) - 1)]

    def randomTrainingExample():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        line_tensor = lineToTensor(line)
        return category, line, category_tensor, line_tensor

    criterion = nn.NLLLoss()

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    all_losses, current_loss = [], 0
    for iter in range(1, n_iters + 1):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        current_loss += loss
        guess, guess_i = categoryFromOutput(output)
        if iter % 20 == 0:
            all_losses.append(current_loss / 20)
            current_loss = 0

    confusion = torch.zeros(n_categories, n_categories)

    def evaluate(line_tensor):
        hidden = rnn.initHidden()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        return output

    for category in all_categories:
        for line in category_lines[category]:
            output = evaluate(lineToTensor(line))
            guess, guess_i = categoryFromOutput(output)
            category_i = all_categories.index(category)
            confusion[category_i][guess_i] += 1
    for i in range(n_categories):
        confusion[i] = confusion[i] / confusion[i].sum()
    assert np.allclose(confusion.sum(1).numpy(), 1)
    return all_losses, params_of(rnn), confusion.numpy()


def char_rnn_classification_nn_rnn(lib, start, n_epoch=6, n_batch_size=4, learning_rate=0.2):
    """The tutorial's newer version: nn.RNN, batches, clip_grad_norm_, optim.SGD."""
    torch, nn = lib.torch, lib.nn

    def lineToTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][all_letters.find(letter)] = 1
        return tensor

    labels_uniq = list(NAMES)
    data = [(torch.tensor([labels_uniq.index(label)], dtype=torch.long), lineToTensor(name),
             label, name) for label in NAMES for name in NAMES[label]]

    class CharRNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(CharRNN, self).__init__()
            self.rnn = nn.RNN(input_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, line_tensor):
            rnn_out, hidden = self.rnn(line_tensor)
            output = self.h2o(hidden[0])
            output = self.softmax(output)
            return output

    rnn = start.module(torch, CharRNN(n_letters, 32, len(labels_uniq)))

    def train(rnn, training_data, n_epoch, n_batch_size, learning_rate, criterion=nn.NLLLoss()):
        current_loss = 0
        all_losses = []
        rnn.train()
        optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)
        for iter in range(1, n_epoch + 1):
            rnn.zero_grad()
            batches = list(range(len(training_data)))
            random.shuffle(batches)
            batches = np.array_split(batches, len(batches) // n_batch_size)
            for idx, batch in enumerate(batches):
                batch_loss = 0
                for i in batch:
                    (label_tensor, text_tensor, label, text) = training_data[i]
                    output = rnn.forward(text_tensor)
                    loss = criterion(output, label_tensor)
                    batch_loss += loss
                batch_loss.backward()
                nn.utils.clip_grad_norm_(rnn.parameters(), 3)
                optimizer.step()
                optimizer.zero_grad()
                current_loss += batch_loss.item() / len(batch)
            all_losses.append(current_loss / len(batches))
            current_loss = 0
        return all_losses

    all_losses = train(rnn, data, n_epoch, n_batch_size, learning_rate)

    def label_from_output(output, output_labels):
        top_n, top_i = output.topk(1)
        label_i = top_i[0].item()
        return output_labels[label_i], label_i

    confusion = torch.zeros(len(labels_uniq), len(labels_uniq))
    rnn.eval()
    with torch.no_grad():
        for label_tensor, text_tensor, label, text in data:
            output = rnn(text_tensor)
            guess, guess_i = label_from_output(output, labels_uniq)
            label_i = labels_uniq.index(label)
            confusion[label_i][guess_i] += 1
    for i in range(len(labels_uniq)):
        denom = confusion[i].sum()
        if denom > 0:
            confusion[i] = confusion[i] / denom
    return all_losses, params_of(rnn), confusion.numpy()


@pytest.mark.parametrize("program", [char_rnn_classification, char_rnn_classification_nn_rnn])
def test_char_rnn_classification(program):
    losses, _, _ = engine_run(program)
    falls(losses)


@pytest.mark.parametrize("program", [char_rnn_classification, char_rnn_classification_nn_rnn])
def test_char_rnn_classification_matches_pytorch(program):
    (l1, p1, c1), (l2, p2, c2) = both(program)
    close(l1, l2, rtol=1e-4, atol=1e-5)
    for a, b in zip(p1, p2):
        close(a, b, rtol=1e-3, atol=1e-5)
    close(c1, c2)


# -- (2) PyTorch tutorial: generating names with a character-level RNN --------------

def char_rnn_generation(lib, start, n_iters=60, dropout=0.1, learning_rate=0.005):
    torch, nn = lib.torch, lib.nn
    gen_letters = string.ascii_letters + " .,;'-"
    n_gen = len(gen_letters) + 1  # plus EOS marker
    all_categories = list(NAMES)
    n_categories = len(all_categories)
    max_length = 10

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
            self.o2o = nn.Linear(hidden_size + output_size, output_size)
            self.dropout = nn.Dropout(dropout)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, category, input, hidden):
            input_combined = torch.cat((category, input, hidden), 1)
            hidden = self.i2h(input_combined)
            output = self.i2o(input_combined)
            output_combined = torch.cat((hidden, output), 1)
            output = self.o2o(output_combined)
            output = self.dropout(output)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    def randomChoice(l):
        return l[random.randint(0, len(l) - 1)]

    def randomTrainingPair():
        category = randomChoice(all_categories)
        line = randomChoice(NAMES[category])
        return category, line

    def categoryTensor(category):
        li = all_categories.index(category)
        tensor = torch.zeros(1, n_categories)
        tensor[0][li] = 1
        return tensor

    def inputTensor(line):
        tensor = torch.zeros(len(line), 1, n_gen)
        for li in range(len(line)):
            letter = line[li]
            tensor[li][0][gen_letters.find(letter)] = 1
        return tensor

    def targetTensor(line):
        letter_indexes = [gen_letters.find(line[li]) for li in range(1, len(line))]
        letter_indexes.append(n_gen - 1)  # EOS
        return torch.LongTensor(letter_indexes)

    def randomTrainingExample():
        category, line = randomTrainingPair()
        category_tensor = categoryTensor(category)
        input_line_tensor = inputTensor(line)
        target_line_tensor = targetTensor(line)
        return category_tensor, input_line_tensor, target_line_tensor

    criterion = nn.NLLLoss()
    rnn = start.module(torch, RNN(n_gen, 32, n_gen))

    def train(category_tensor, input_line_tensor, target_line_tensor):
        target_line_tensor.unsqueeze_(-1)
        hidden = rnn.initHidden()
        rnn.zero_grad()
        loss = torch.Tensor([0])  # you can also just simply use ``loss = 0``
        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            l = criterion(output, target_line_tensor[i])
            loss += l
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item() / input_line_tensor.size(0)

    all_losses, total_loss = [], 0
    for iter in range(1, n_iters + 1):
        output, loss = train(*randomTrainingExample())
        total_loss += loss
        if iter % 20 == 0:
            all_losses.append(total_loss / 20)
            total_loss = 0

    def sample(category, start_letter='A'):
        with torch.no_grad():
            category_tensor = categoryTensor(category)
            input = inputTensor(start_letter)
            hidden = rnn.initHidden()
            output_name = start_letter
            for i in range(max_length):
                output, hidden = rnn(category_tensor, input[0], hidden)
                topv, topi = output.topk(1)
                topi = topi[0][0]
                if topi == n_gen - 1:
                    break
                else:
                    letter = gen_letters[topi]
                    output_name += letter
                input = inputTensor(letter)
            return output_name

    rnn.eval()
    samples = [sample(c, s) for c in all_categories for s in "RST"]
    assert all(isinstance(s, str) and 1 <= len(s) <= max_length + 1 for s in samples)
    return all_losses, params_of(rnn), samples


def test_char_rnn_generation():
    losses, _, _ = engine_run(char_rnn_generation, n_iters=100)
    falls(losses)


def test_char_rnn_generation_without_dropping_matches_pytorch():
    (l1, p1, s1), (l2, p2, s2) = both(char_rnn_generation, dropout=0.0)
    close(l1, l2)
    for a, b in zip(p1, p2):
        close(a, b, rtol=1e-3, atol=1e-5)
    assert s1 == s2


# -- (3) d2l: recurrent neural networks ----------------------------------------------

def tokenize(lines, token='char'):
    if token == 'word':
        return [line.split() for line in lines]
    return [list(line) for line in lines]


def count_corpus(tokens):
    if len(tokens) == 0 or isinstance(tokens[0], list):
        tokens = [token for line in tokens for token in line]
    return collections.Counter(tokens)


class Vocab:
    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        if tokens is None:
            tokens = []
        if reserved_tokens is None:
            reserved_tokens = []
        counter = count_corpus(tokens)
        self._token_freqs = sorted(counter.items(), key=lambda x: (-x[1], x[0]))
        self.idx_to_token = ['<unk>'] + reserved_tokens
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        if not isinstance(indices, (list, tuple)):
            return self.idx_to_token[indices]
        return [self.idx_to_token[index] for index in indices]

    @property
    def unk(self):
        return 0


def load_corpus_time_machine():
    tokens = tokenize([TEXT], 'char')
    vocab = Vocab(tokens)
    corpus = [vocab[token] for line in tokens for token in line]
    return corpus, vocab


def rnn_chapter(lib):
    """d2l's chapter-8 helpers (data iterators, predict_ch8, grad_clipping, train_ch8)."""
    torch, nn = lib.torch, lib.nn

    def seq_data_iter_random(corpus, batch_size, num_steps):
        corpus = corpus[random.randint(0, num_steps - 1):]
        num_subseqs = (len(corpus) - 1) // num_steps
        initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
        random.shuffle(initial_indices)

        def data(pos):
            return corpus[pos: pos + num_steps]

        num_batches = num_subseqs // batch_size
        for i in range(0, batch_size * num_batches, batch_size):
            initial_indices_per_batch = initial_indices[i: i + batch_size]
            X = [data(j) for j in initial_indices_per_batch]
            Y = [data(j + 1) for j in initial_indices_per_batch]
            yield torch.tensor(X), torch.tensor(Y)

    def seq_data_iter_sequential(corpus, batch_size, num_steps):
        offset = random.randint(0, num_steps)
        num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
        Xs = torch.tensor(corpus[offset: offset + num_tokens])
        Ys = torch.tensor(corpus[offset + 1: offset + 1 + num_tokens])
        Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
        num_batches = Xs.shape[1] // num_steps
        for i in range(0, num_steps * num_batches, num_steps):
            X = Xs[:, i: i + num_steps]
            Y = Ys[:, i: i + num_steps]
            yield X, Y

    class SeqDataLoader:
        def __init__(self, batch_size, num_steps, use_random_iter):
            self.data_iter_fn = seq_data_iter_random if use_random_iter else seq_data_iter_sequential
            self.corpus, self.vocab = load_corpus_time_machine()
            self.batch_size, self.num_steps = batch_size, num_steps

        def __iter__(self):
            return self.data_iter_fn(self.corpus, self.batch_size, self.num_steps)

    def load_data_time_machine(batch_size, num_steps, use_random_iter=False):
        data_iter = SeqDataLoader(batch_size, num_steps, use_random_iter)
        return data_iter, data_iter.vocab

    def predict_ch8(prefix, num_preds, net, vocab, device):
        state = net.begin_state(batch_size=1, device=device)
        outputs = [vocab[prefix[0]]]
        get_input = lambda: torch.tensor([outputs[-1]], device=device).reshape((1, 1))  # noqa: E731
        for y in prefix[1:]:
            _, state = net(get_input(), state)
            outputs.append(vocab[y])
        for _ in range(num_preds):
            y, state = net(get_input(), state)
            outputs.append(int(y.argmax(dim=1).reshape(1)))
        return ''.join([vocab.idx_to_token[i] for i in outputs])

    def grad_clipping(net, theta):
        if isinstance(net, nn.Module):
            params = [p for p in net.parameters() if p.requires_grad]
        else:
            params = net.params
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm

    def train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter):
        state = None
        metric = d2l(lib).Accumulator(2)
        for X, Y in train_iter:
            if state is None or use_random_iter:
                state = net.begin_state(batch_size=X.shape[0], device=device)
            else:
                if isinstance(net, nn.Module) and not isinstance(state, tuple):
                    state.detach_()
                else:
                    for s in state:
                        s.detach_()
            y = Y.T.reshape(-1)
            X, y = X.to(device), y.to(device)
            y_hat, state = net(X, state)
            l = loss(y_hat, y.long()).mean()
            if isinstance(updater, torch.optim.Optimizer):
                updater.zero_grad()
                l.backward()
                grad_clipping(net, 1)
                updater.step()
            else:
                l.backward()
                grad_clipping(net, 1)
                updater(batch_size=1)
            metric.add(l * y.numel(), y.numel())
        return math.exp(metric[0] / metric[1])

    def train_ch8(net, train_iter, vocab, lr, num_epochs, device, use_random_iter=False):
        loss = nn.CrossEntropyLoss()
        if isinstance(net, nn.Module):
            updater = torch.optim.SGD(net.parameters(), lr)
        else:
            updater = lambda batch_size: d2l(lib).sgd(net.params, lr, batch_size)  # noqa: E731
        predict = lambda prefix: predict_ch8(prefix, 10, net, vocab, device)  # noqa: E731
        ppls = []
        for epoch in range(num_epochs):
            ppls.append(train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter))
        return ppls, predict('time traveller'), predict('traveller')

    return load_data_time_machine, predict_ch8, grad_clipping, train_ch8


def rnn_scratch(lib, start, num_epochs=4, use_random_iter=False, batch_size=4, num_steps=8):
    torch, F = lib.torch, lib.F
    load_data_time_machine, predict_ch8, grad_clipping, train_ch8 = rnn_chapter(lib)
    train_iter, vocab = load_data_time_machine(batch_size, num_steps, use_random_iter)
    assert F.one_hot(torch.tensor([0, 2]), len(vocab)).shape == (2, len(vocab))
    X = torch.arange(10).reshape((2, 5))
    assert F.one_hot(X.T, 28).shape == (5, 2, 28)

    def get_params(vocab_size, num_hiddens, device):
        num_inputs = num_outputs = vocab_size

        def normal(shape):
            return torch.randn(size=shape, device=device) * 0.01

        W_xh = normal((num_inputs, num_hiddens))
        W_hh = normal((num_hiddens, num_hiddens))
        b_h = torch.zeros(num_hiddens, device=device)
        W_hq = normal((num_hiddens, num_outputs))
        b_q = torch.zeros(num_outputs, device=device)
        params = [W_xh, W_hh, b_h, W_hq, b_q]
        start(torch, *params)
        for param in params:
            param.requires_grad_(True)
        return params

    def init_rnn_state(batch_size, num_hiddens, device):
        return (torch.zeros((batch_size, num_hiddens), device=device), )

    def rnn(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        H, = state
        outputs = []
        for X in inputs:
            H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
            Y = torch.mm(H, W_hq) + b_q
            outputs.append(Y)
        return torch.cat(outputs, dim=0), (H,)

    class RNNModelScratch:
        def __init__(self, vocab_size, num_hiddens, device, get_params, init_state, forward_fn):
            self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
            self.params = get_params(vocab_size, num_hiddens, device)
            self.init_state, self.forward_fn = init_state, forward_fn

        def __call__(self, X, state):
            X = F.one_hot(X.T, self.vocab_size).type(torch.float32)
            return self.forward_fn(X, state, self.params)

        def begin_state(self, batch_size, device):
            return self.init_state(batch_size, self.num_hiddens, device)

    num_hiddens = 32
    device = torch.device('cpu')
    net = RNNModelScratch(len(vocab), num_hiddens, device, get_params, init_rnn_state, rnn)
    state = net.begin_state(X.shape[0], device)
    Y, new_state = net(X.to(device), state)
    assert Y.shape == (10, len(vocab)) and len(new_state) == 1 and new_state[0].shape == (2, 32)
    assert isinstance(predict_ch8('time traveller ', 10, net, vocab, device), str)
    ppls, p1, p2 = train_ch8(net, train_iter, vocab, 1, num_epochs, device, use_random_iter)
    return ppls, [p.detach().numpy().copy() for p in net.params], (p1, p2)


def rnn_concise(lib, start, cell='RNN', num_layers=1, bidirectional=False, num_epochs=4,
                batch_size=4, num_steps=8, num_hiddens=32, lr=1):
    torch, nn, F = lib.torch, lib.nn, lib.F
    load_data_time_machine, predict_ch8, grad_clipping, train_ch8 = rnn_chapter(lib)
    train_iter, vocab = load_data_time_machine(batch_size, num_steps)
    vocab_size = len(vocab)
    if cell == 'RNN':
        rnn_layer = nn.RNN(len(vocab), num_hiddens)
    else:
        rnn_layer = getattr(nn, cell)(vocab_size, num_hiddens, num_layers,
                                      bidirectional=bidirectional)
    if cell == 'RNN':
        state = torch.zeros((1, batch_size, num_hiddens))
        X = torch.rand(size=(num_steps, batch_size, len(vocab)))
        Y, state_new = rnn_layer(X, state)
        assert Y.shape == (num_steps, batch_size, num_hiddens)
        assert state_new.shape == (1, batch_size, num_hiddens)

    class RNNModel(nn.Module):
        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super(RNNModel, self).__init__(**kwargs)
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.num_hiddens = self.rnn.hidden_size
            if not self.rnn.bidirectional:
                self.num_directions = 1
                self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
            else:
                self.num_directions = 2
                self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size)
            X = X.to(torch.float32)
            Y, state = self.rnn(X, state)
            output = self.linear(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, device, batch_size=1):
            if not isinstance(self.rnn, nn.LSTM):
                return torch.zeros((self.num_directions * self.rnn.num_layers,
                                    batch_size, self.num_hiddens), device=device)
            else:
                return (torch.zeros((self.num_directions * self.rnn.num_layers,
                                     batch_size, self.num_hiddens), device=device),
                        torch.zeros((self.num_directions * self.rnn.num_layers,
                                     batch_size, self.num_hiddens), device=device))

    device = torch.device('cpu')
    net = RNNModel(rnn_layer, vocab_size=len(vocab))
    net = net.to(device)
    start.module(torch, net)
    assert isinstance(predict_ch8('time traveller', 10, net, vocab, device), str)
    ppls, p1, p2 = train_ch8(net, train_iter, vocab, lr, num_epochs, device)
    return ppls, params_of(net), (p1, p2)


D2L_RNNS = [
    pytest.param(rnn_scratch, {}, id="scratch"),
    pytest.param(rnn_scratch, {"use_random_iter": True}, id="scratch-random-iter"),
    pytest.param(rnn_concise, {}, id="rnn"),
    pytest.param(rnn_concise, {"cell": "GRU"}, id="gru"),
    pytest.param(rnn_concise, {"cell": "LSTM"}, id="lstm"),
    pytest.param(rnn_concise, {"cell": "LSTM", "num_layers": 2}, id="deep-lstm"),
    pytest.param(rnn_concise, {"cell": "LSTM", "num_layers": 2, "bidirectional": True},
                 id="bidirectional-lstm"),
]


@pytest.mark.parametrize("program, kwargs", D2L_RNNS)
def test_d2l_rnn(program, kwargs):
    ppls, _, _ = engine_run(program, **kwargs)
    falls(ppls)


@pytest.mark.parametrize("program, kwargs", D2L_RNNS)
def test_d2l_rnn_matches_pytorch(program, kwargs):
    (l1, p1, s1), (l2, p2, s2) = both(program, **kwargs)
    close(l1, l2, rtol=1e-4)
    for a, b in zip(p1, p2):
        close(a, b, rtol=1e-3, atol=1e-5)
    assert s1 == s2


# -- d2l: sequence to sequence learning --------------------------------------------

def preprocess_nmt(text):
    def no_space(char, prev_char):
        return char in set(',.!?') and prev_char != ' '
    text = text.replace('\u202f', ' ').replace('\xa0', ' ').lower()
    out = [' ' + char if i > 0 and no_space(char, text[i - 1]) else char
           for i, char in enumerate(text)]
    return ''.join(out)


def tokenize_nmt(text, num_examples=None):
    source, target = [], []
    for i, line in enumerate(text.split('\n')):
        if num_examples and i > num_examples:
            break
        parts = line.split('\t')
        if len(parts) == 2:
            source.append(parts[0].split(' '))
            target.append(parts[1].split(' '))
    return source, target


def truncate_pad(line, num_steps, padding_token):
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


def seq2seq(lib, start, num_epochs=30, shuffle=False, dropout=0.0, lr=0.005, num_steps=6):
    torch, nn, data = lib.torch, lib.nn, lib.data

    def build_array_nmt(lines, vocab, num_steps):
        lines = [vocab[l] for l in lines]
        lines = [l + [vocab['<eos>']] for l in lines]
        array = torch.tensor([truncate_pad(l, num_steps, vocab['<pad>']) for l in lines])
        valid_len = (array != vocab['<pad>']).type(torch.int32).sum(1)
        return array, valid_len

    def load_data_nmt(batch_size, num_steps):
        text = preprocess_nmt(PAIRS)
        source, target = tokenize_nmt(text)
        src_vocab = Vocab(source, min_freq=1, reserved_tokens=['<pad>', '<bos>', '<eos>'])
        tgt_vocab = Vocab(target, min_freq=1, reserved_tokens=['<pad>', '<bos>', '<eos>'])
        src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
        tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
        data_arrays = (src_array, src_valid_len, tgt_array, tgt_valid_len)
        data_iter = data.DataLoader(data.TensorDataset(*data_arrays), batch_size, shuffle=shuffle)
        return data_iter, src_vocab, tgt_vocab

    class Encoder(nn.Module):
        def __init__(self, **kwargs):
            super(Encoder, self).__init__(**kwargs)

        def forward(self, X, *args):
            raise NotImplementedError

    class Decoder(nn.Module):
        def __init__(self, **kwargs):
            super(Decoder, self).__init__(**kwargs)

        def init_state(self, enc_outputs, *args):
            raise NotImplementedError

        def forward(self, X, state):
            raise NotImplementedError

    class EncoderDecoder(nn.Module):
        def __init__(self, encoder, decoder, **kwargs):
            super(EncoderDecoder, self).__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder

        def forward(self, enc_X, dec_X, *args):
            enc_outputs = self.encoder(enc_X, *args)
            dec_state = self.decoder.init_state(enc_outputs, *args)
            return self.decoder(dec_X, dec_state)

    class Seq2SeqEncoder(Encoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
            super(Seq2SeqEncoder, self).__init__(**kwargs)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

        def forward(self, X, *args):
            X = self.embedding(X)
            X = X.permute(1, 0, 2)
            output, state = self.rnn(X)
            return output, state

    class Seq2SeqDecoder(Decoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
            super(Seq2SeqDecoder, self).__init__(**kwargs)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, *args):
            return enc_outputs[1]

        def forward(self, X, state):
            X = self.embedding(X).permute(1, 0, 2)
            context = state[-1].repeat(X.shape[0], 1, 1)
            X_and_context = torch.cat((X, context), 2)
            output, state = self.rnn(X_and_context, state)
            output = self.dense(output).permute(1, 0, 2)
            return output, state

    encoder = Seq2SeqEncoder(vocab_size=10, embed_size=8, num_hiddens=16, num_layers=2)
    encoder.eval()
    X = torch.zeros((4, 7), dtype=torch.long)
    output, state = encoder(X)
    assert output.shape == (7, 4, 16) and state.shape == (2, 4, 16)
    decoder = Seq2SeqDecoder(vocab_size=10, embed_size=8, num_hiddens=16, num_layers=2)
    decoder.eval()
    state = decoder.init_state(encoder(X))
    output, state = decoder(X, state)
    assert output.shape == (4, 7, 10) and state.shape == (2, 4, 16)

    def sequence_mask(X, valid_len, value=0):
        maxlen = X.size(1)
        mask = torch.arange((maxlen), dtype=torch.float32,
                            device=X.device)[None, :] < valid_len[:, None]
        X[~mask] = value
        return X

    X = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert sequence_mask(X, torch.tensor([1, 2])).tolist() == [[1, 0, 0], [4, 5, 0]]
    X = torch.ones(2, 3, 4)
    assert sequence_mask(X, torch.tensor([1, 2]), value=-1)[1, 2].tolist() == [-1] * 4

    class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
        def forward(self, pred, label, valid_len):
            weights = torch.ones_like(label)
            weights = sequence_mask(weights, valid_len)
            self.reduction = 'none'
            unweighted_loss = super(MaskedSoftmaxCELoss, self).forward(
                pred.permute(0, 2, 1), label)
            weighted_loss = (unweighted_loss * weights).mean(dim=1)
            return weighted_loss

    loss = MaskedSoftmaxCELoss()
    l = loss(torch.ones(3, 4, 10), torch.ones((3, 4), dtype=torch.long), torch.tensor([4, 2, 0]))
    np.testing.assert_allclose(l.numpy(), [2.3026, 1.1513, 0], rtol=1e-4)

    def grad_clipping(net, theta):
        params = [p for p in net.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm

    def train_seq2seq(net, data_iter, lr, num_epochs, tgt_vocab, device):
        def xavier_init_weights(m):
            if type(m) == nn.Linear:
                nn.init.xavier_uniform_(m.weight)
            if type(m) == nn.GRU:
                for param in m._flat_weights_names:
                    if "weight" in param:
                        nn.init.xavier_uniform_(m._parameters[param])
        net.apply(xavier_init_weights)
        start.module(torch, net)
        net.to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        loss = MaskedSoftmaxCELoss()
        net.train()
        losses = []
        for epoch in range(num_epochs):
            metric = d2l(lib).Accumulator(2)
            for batch in data_iter:
                optimizer.zero_grad()
                X, X_valid_len, Y, Y_valid_len = [x.to(device) for x in batch]
                bos = torch.tensor([tgt_vocab['<bos>']] * Y.shape[0],
                                   device=device).reshape(-1, 1)
                dec_input = torch.cat([bos, Y[:, :-1]], 1)
                Y_hat, _ = net(X, dec_input, X_valid_len)
                l = loss(Y_hat, Y, Y_valid_len)
                l.sum().backward()
                grad_clipping(net, 1)
                num_tokens = Y_valid_len.sum()
                optimizer.step()
                with torch.no_grad():
                    metric.add(l.sum(), num_tokens)
            losses.append(metric[0] / metric[1])
        return losses

    def predict_seq2seq(net, src_sentence, src_vocab, tgt_vocab, num_steps, device):
        net.eval()
        src_tokens = src_vocab[src_sentence.lower().split(' ')] + [src_vocab['<eos>']]
        enc_valid_len = torch.tensor([len(src_tokens)], device=device)
        src_tokens = truncate_pad(src_tokens, num_steps, src_vocab['<pad>'])
        enc_X = torch.unsqueeze(torch.tensor(src_tokens, dtype=torch.long, device=device), dim=0)
        enc_outputs = net.encoder(enc_X, enc_valid_len)
        dec_state = net.decoder.init_state(enc_outputs, enc_valid_len)
        dec_X = torch.unsqueeze(torch.tensor([tgt_vocab['<bos>']], dtype=torch.long,
                                             device=device), dim=0)
        output_seq = []
        for _ in range(num_steps):
            Y, dec_state = net.decoder(dec_X, dec_state)
            dec_X = Y.argmax(dim=2)
            pred = dec_X.squeeze(dim=0).type(torch.int32).item()
            if pred == tgt_vocab['<eos>']:
                break
            output_seq.append(pred)
        return ' '.join(tgt_vocab.to_tokens(output_seq))

    embed_size, num_hiddens, num_layers = 8, 16, 2
    batch_size = 4
    device = torch.device('cpu')
    train_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size, num_steps)
    encoder = Seq2SeqEncoder(len(src_vocab), embed_size, num_hiddens, num_layers, dropout)
    decoder = Seq2SeqDecoder(len(tgt_vocab), embed_size, num_hiddens, num_layers, dropout)
    net = EncoderDecoder(encoder, decoder)
    losses = train_seq2seq(net, train_iter, lr, num_epochs, tgt_vocab, device)
    translations = [predict_seq2seq(net, eng, src_vocab, tgt_vocab, num_steps, device)
                    for eng in ['go .', 'i lost .', "he's calm .", "i'm home ."]]
    return losses, params_of(net), translations


def test_seq2seq():
    losses, _, _ = engine_run(seq2seq, shuffle=True, dropout=0.1)
    falls(losses)


def test_seq2seq_matches_pytorch():
    (l1, p1, t1), (l2, p2, t2) = both(seq2seq)
    close(l1, l2, rtol=1e-3)
    for a, b in zip(p1, p2):
        close(a, b, rtol=1e-3, atol=1e-4)
    assert t1 == t2
